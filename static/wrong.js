(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("wrong-i18n").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  // a question is shown by its type's widget (quiz/questions): one, many, truefalse, blanks
  function answerText(widget, answer) {
    if (widget === "blanks" && Array.isArray(answer)) {
      return answer.map(function (b) { return Array.isArray(b) ? b.join(" / ") : b; }).join(" | ");
    }
    if (widget === "truefalse") return answer === "正确" ? T["true"] : answer === "错误" ? T["false"] : answer;
    return answer;
  }
  function responseOf(card) {
    var widget = card.getAttribute("data-widget");
    if (widget === "blanks") {
      var values = [];
      card.querySelectorAll("input[data-blank]").forEach(function (i) { values.push(i.value); });
      return values.some(function (v) { return v.trim(); }) ? values : null;
    }
    var letters = [];
    card.querySelectorAll("input:checked").forEach(function (i) { letters.push(i.value); });
    if (!letters.length) return null;
    return widget === "many" ? letters.sort().join("") : letters[0];
  }
  document.addEventListener("change", function (e) {
    var card = e.target.closest && e.target.closest(".wrong-item");
    if (!card || (e.target.type !== "radio" && e.target.type !== "checkbox")) return;
    card.querySelectorAll(".opt").forEach(function (l) { l.classList.toggle("checked", l.querySelector("input").checked); });
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".check-btn");
    if (!button) return;
    var card = button.closest(".wrong-item");
    var box = card.querySelector(".feedback");
    var response = responseOf(card);
    function say(text, cls) {
      box.hidden = false;
      box.className = "feedback " + cls;
      box.querySelector(".verdict").textContent = text;
      box.querySelector(".answer").hidden = true;
      box.querySelector(".explanation").hidden = true;
    }
    if (response === null) { say(T.choose, "wrong"); return; }
    button.disabled = true;
    fetch(card.getAttribute("data-check"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": CSRF},
      body: JSON.stringify({response: response})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        button.disabled = false;
        if (!res.ok) { say(T.failed.replace("{error}", body.error || res.status), "wrong"); return; }
        box.hidden = false;
        box.className = "feedback " + (body.correct ? "right" : "wrong");
        box.setAttribute("data-correct", body.correct ? "true" : "false");
        box.querySelector(".verdict").textContent = body.correct ? T.right : T.wrong;
        box.querySelector(".answer").hidden = false;
        box.querySelector(".answer-text").textContent = answerText(card.getAttribute("data-widget"), body.answer);
        var ex = box.querySelector(".explanation");
        ex.hidden = !body.explanation;
        box.querySelector(".explanation-text").textContent = body.explanation || "";
      });
    }, function () {
      button.disabled = false;
      say(T.failed.replace("{error}", T.no_connection), "wrong");
    });
  });
})();
