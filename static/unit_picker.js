(function () {
  "use strict";
  var input = document.getElementById("unit");
  var list = document.getElementById("unit-list");
  var datalist = document.getElementById("unit-options");
  if (!input || !list || !datalist) return;
  var T = JSON.parse(document.getElementById("picker-i18n").textContent);
  var units = Array.prototype.map.call(datalist.options, function (o) { return o.value; });
  var error = document.getElementById("unit-error");
  var LIMIT = 40;
  input.removeAttribute("list");  // the filter list below replaces the browser's datalist

  function tokens(text) {
    return text.toLowerCase().split(/[\s\/／>＞\\]+/).filter(Boolean);
  }
  function matches(query) {
    var parts = tokens(query);
    if (!parts.length) return units.slice();
    return units.filter(function (path) {
      var p = path.toLowerCase();
      return parts.every(function (t) { return p.indexOf(t) >= 0; });
    });
  }
  function highlight(li, path, parts) {
    // plain text with the matched parts marked (no innerHTML: paths come from organisers)
    var lower = path.toLowerCase(), marks = [];
    parts.forEach(function (t) {
      var i = lower.indexOf(t);
      if (i >= 0) marks.push([i, i + t.length]);
    });
    marks.sort(function (a, b) { return a[0] - b[0]; });
    var pos = 0;
    marks.forEach(function (m) {
      if (m[0] < pos) return;
      li.appendChild(document.createTextNode(path.slice(pos, m[0])));
      var mark = document.createElement("mark");
      mark.textContent = path.slice(m[0], m[1]);
      li.appendChild(mark);
      pos = m[1];
    });
    li.appendChild(document.createTextNode(path.slice(pos)));
  }
  function show() {
    var found = matches(input.value), parts = tokens(input.value);
    list.textContent = "";
    if (found.length === 1 && found[0] === input.value) { list.hidden = true; return; }
    found.slice(0, LIMIT).forEach(function (path) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "option");
      b.dataset.value = path;
      highlight(b, path, parts);
      li.appendChild(b);
      list.appendChild(li);
    });
    if (found.length > LIMIT || !found.length) {
      var more = document.createElement("li");
      more.className = "more";
      more.textContent = found.length ? T.more.replace("{count}", found.length - LIMIT) : T.none;
      list.appendChild(more);
    }
    list.hidden = false;
  }
  input.addEventListener("input", function () { error.hidden = true; show(); });
  input.addEventListener("focus", show);
  list.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus while tapping
  list.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-value]");
    if (!b) return;
    input.value = b.dataset.value;
    list.hidden = true;
    error.hidden = true;
  });
  input.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });
  input.form.addEventListener("submit", function (e) {
    var value = input.value.trim();
    if (!value || units.indexOf(value) >= 0) return;
    var found = matches(value);
    if (found.length === 1) { input.value = found[0]; return; }
    e.preventDefault();
    e.stopImmediatePropagation();
    error.hidden = false;
    input.focus();
  }, true);
})();
