// The big screen (templates/boards/screen.html): fresh standings from the public leaderboard
// API every few seconds, written into the same table in place (no page reload, no flicker), and
// — with ?scroll=1 — a slow, smooth scroll through the rows when they do not fit, pausing at the
// top and the bottom. The header row is sticky, so it never scrolls away; each entry is in the
// table once. Plain ES5 + fetch; no build step.
(function () {
  "use strict";
  var dataEl = document.getElementById("screen-data");
  if (!dataEl) return;
  var D = JSON.parse(dataEl.textContent);
  var viewport = document.getElementById("viewport");
  var tbody = document.getElementById("rows");
  var screen = document.getElementById("screen");
  var PAUSE_MS = 3000;        // at the top and at the bottom
  var SECONDS_PER_ROW = 1.4;  // scrolling speed: one row every 1.4 s
  var BACK_FASTER = 8;        // going back to the top is this much faster

  // ---------------------------------------------------------------- rendering
  function score(n) {
    // like Python's '%g': 10.0 → "10", 9.5 → "9.5"
    return String(+Number(n).toPrecision(6));
  }
  function cell(tr, i, cls, text) {
    var td = tr.cells[i];
    if (!td) { td = tr.insertCell(i); td.className = cls; }
    if (td.textContent !== text) td.textContent = text;
  }
  function renderRows(entries) {
    entries.forEach(function (e, i) {
      var tr = tbody.rows[i] || tbody.insertRow(i);
      var cls = "r" + (e.rank <= 3 ? e.rank : "n");
      if (tr.className !== cls) tr.className = cls;
      cell(tr, 0, "num", String(e.rank));
      cell(tr, 1, "name", e.name);
      cell(tr, 2, "unit", e.unit || "");
      cell(tr, 3, "num", score(e.score));
      cell(tr, 4, "num", Number(e.time_used_seconds).toFixed(1));
    });
    while (tbody.rows.length > entries.length) tbody.deleteRow(-1);
    document.getElementById("empty").hidden = entries.length > 0;
  }
  function localTime(iso) {
    var t = new Date(String(iso).replace(/(\.\d{3})\d+/, "$1"));
    if (isNaN(t.getTime())) return iso;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: D.timezone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hour12: false}).formatToParts(t).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return t.toISOString().slice(0, 16).replace("T", " ");
    }
  }
  function renderFrozen(iso) {
    var node = document.getElementById("frozen");
    node.hidden = !iso;
    if (iso) node.textContent = D.frozen.replace("{time}", localTime(iso));
  }

  // ---------------------------------------------------------------- updating
  function update() {
    fetch(D.api, {headers: {"Accept": "application/json"}, cache: "no-store", credentials: "same-origin"})
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) {
        if (data && data.entries) {
          renderRows(data.entries);
          renderFrozen(data.frozen_at);
          screen.setAttribute("data-updated", String(Date.now()));
        }
      })
      .catch(function () { /* keep showing the last standings; try again next time */ })
      .then(function () { setTimeout(update, D.refresh * 1000); });
  }
  setTimeout(update, D.refresh * 1000);

  // ---------------------------------------------------------------- scrolling
  var phase = "top", since = null, last = null, pos = 0;
  function setScrolling(on) {
    var value = on ? "true" : "false";
    if (screen.getAttribute("data-scrolling") !== value) screen.setAttribute("data-scrolling", value);
  }
  function rowHeight() {
    var row = tbody.rows[0];
    return row ? row.getBoundingClientRect().height : 40;
  }
  function step(ts) {
    var dt = last === null ? 0 : Math.min(ts - last, 100) / 1000;
    last = ts;
    if (since === null) since = ts;
    var overflow = viewport.scrollHeight - viewport.clientHeight;
    if (!D.scroll || overflow <= 1) {
      // everything fits (or scrolling is off): stand still at the top
      if (viewport.scrollTop !== 0) viewport.scrollTop = 0;
      pos = 0; phase = "top"; since = ts;
      setScrolling(false);
      window.requestAnimationFrame(step);
      return;
    }
    setScrolling(true);
    var speed = rowHeight() / SECONDS_PER_ROW;
    if (pos > overflow) pos = overflow;  // the list got shorter
    if (phase === "top") {
      if (ts - since >= PAUSE_MS) phase = "down";
    } else if (phase === "down") {
      pos += speed * dt;
      if (pos >= overflow) { pos = overflow; phase = "bottom"; since = ts; }
    } else if (phase === "bottom") {
      if (ts - since >= PAUSE_MS) phase = "up";
    } else {
      pos -= speed * BACK_FASTER * dt;
      if (pos <= 0) { pos = 0; phase = "top"; since = ts; }
    }
    viewport.scrollTop = pos;
    window.requestAnimationFrame(step);
  }
  window.requestAnimationFrame(step);
})();
