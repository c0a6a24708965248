// Small helpers shared by the live contest's pages (the phone, the big screen and the host's
// console): loaded before their own script (templates/live/*.html). Plain ES5; no build step.
(function () {
  "use strict";
  function num(n) { return String(+Number(n).toPrecision(6)); }
  window.LiveCommon = {
    $: function (id) { return document.getElementById(id); },
    // "{name}" placeholders of a translated text filled from `values` (unknown ones stay)
    fmt: function (text, values) {
      return String(text).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
    },
    num: num,
    signed: function (n) { return (n > 0 ? "+" : n < 0 ? "−" : "") + num(Math.abs(n)); },
    el: function (tag, cls, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text !== undefined && text !== null) node.textContent = text;
      return node;
    },
    // an ISO 8601 time from the server (microseconds cut to what Date.parse takes) → ms, or null
    parseTime: function (text) {
      if (!text) return null;
      var t = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
      return isNaN(t) ? null : t;
    },
    setHidden: function (node, hidden) { if (node.hidden !== hidden) node.hidden = hidden; },
    setText: function (node, text) { if (node.textContent !== text) node.textContent = text; }
  };
})();
