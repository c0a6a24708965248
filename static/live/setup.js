// The set-up page of a live contest (templates/live/setup.html): each round row shows the
// settings of its chosen type and the inputs of its question source; "Add a row" / "Add a round"
// copy the blank row of a <template> with the next index; "Find questions…" searches the banks
// (GET /live/questions.json) and adds the ids to that round's list. Without this script every
// field shows, and the server reads the chosen type's settings only.
(function () {
  "use strict";
  var form = document.getElementById("live-setup");
  if (!form) return;
  var data = JSON.parse(document.getElementById("setup-data").textContent);
  var T = data.i18n;

  function roundView(round) {
    var type = round.querySelector("[data-round-type]").value;
    round.querySelectorAll("[data-settings]").forEach(function (box) {
      box.hidden = box.getAttribute("data-settings") !== type;
    });
    var source = round.querySelector("[data-source]:checked");
    var chosen = source ? source.value : "draw";
    round.querySelectorAll("[data-when]").forEach(function (box) {
      box.hidden = box.getAttribute("data-when") !== chosen;
    });
    var questions = round.querySelector(".round-questions");
    if (questions) questions.hidden = !type;
    round.classList.toggle("unused", !type);
  }

  function refresh() {
    form.querySelectorAll("[data-round]").forEach(roundView);
  }

  form.addEventListener("change", function (event) {
    var round = event.target.closest("[data-round]");
    if (round) roundView(round);
  });

  function renumber(container) {
    container.querySelectorAll("[data-number]").forEach(function (el, i) { el.textContent = String(i + 1); });
  }

  document.querySelectorAll("[data-add]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kind = button.getAttribute("data-add");
      var container = form.querySelector('[data-rows="' + kind + '"]');
      var template = document.getElementById(kind + "-template");
      var index = container.querySelectorAll("[data-row], [data-round]").length;
      var html = template.innerHTML.split("__i__").join(String(index));
      var holder = document.createElement(kind === "entrants" ? "tbody" : "div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      container.appendChild(row);
      renumber(container);
      if (kind === "rounds") roundView(row);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
    });
  });

  // ---- the question picker
  var dialog = document.getElementById("question-picker");
  var target = null;
  var results = document.getElementById("picker-results");
  var status = document.getElementById("picker-status");

  function say(text) { status.textContent = text; }

  function currentIds() {
    if (!target) return [];
    return target.value.split(/[\s,，、;；]+/).filter(Boolean).map(function (w) { return w.split(/[:：]/)[0]; });
  }

  function search() {
    var params = new URLSearchParams();
    params.set("q", document.getElementById("picker-q").value);
    params.set("type", document.getElementById("picker-type").value);
    form.querySelectorAll("#banks input:checked").forEach(function (box) { params.append("bank", box.value); });
    say(T.searching);
    fetch(data.search + "?" + params.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (!res.ok) throw new Error(body.error || String(res.status));
          return body;
        });
      })
      .then(function (questions) {
        results.textContent = "";
        var have = currentIds();
        questions.forEach(function (q) {
          var li = document.createElement("li");
          li.className = "question";
          var head = document.createElement("div");
          head.className = "q-meta";
          head.textContent = "#" + q.id + " · " + q.type + " · " + (q.bank || "");
          var stem = document.createElement("div");
          stem.className = "q-stem";
          stem.textContent = q.stem;
          var answer = document.createElement("div");
          answer.className = "muted";
          answer.textContent = T.answer + " " + q.answer;
          var add = document.createElement("button");
          add.type = "button";
          add.textContent = have.indexOf(String(q.id)) >= 0 ? T.added : T.add;
          add.disabled = have.indexOf(String(q.id)) >= 0;
          add.addEventListener("click", function () {
            if (!target) return;
            target.value = (target.value.trim() ? target.value.trim() + " " : "") + q.id;
            add.textContent = T.added;
            add.disabled = true;
          });
          li.appendChild(head);
          li.appendChild(stem);
          li.appendChild(answer);
          li.appendChild(add);
          results.appendChild(li);
        });
        say(questions.length ? T.shown.replace("{n}", questions.length) : T.none);
      })
      .catch(function (error) { say(T.failed.replace("{error}", error.message)); });
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-find]");
    if (!button) return;
    target = button.closest("[data-when]").querySelector("textarea");
    results.textContent = "";
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
    search();
  });
  document.getElementById("picker-search").addEventListener("click", search);
  document.getElementById("picker-q").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); search(); }
  });

  refresh();
})();
