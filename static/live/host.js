// The host's console of a live contest (templates/live/host.html).
// State: the host's state JSON (quiz/services/live.py public_state(host=True)), first from the page,
// then pushed by the stream (EventSource on /live/<id>/stream, which reconnects by itself) and
// returned by every command; a state older than the one shown (lower contest.version) is ignored.
// Commands: POST /live/<id>/host/<command> with a JSON body and the CSRF token in X-CSRFToken.
// A refused command (409 wrong moment, 422 bad value, 403 …) or a lost connection is shown in
// #command-error and kept in its log until dismissed: never lost silently.
(function () {
  "use strict";
  var root = document.getElementById("host");
  if (!root) return;
  var data = JSON.parse(document.getElementById("host-data").textContent);
  var T = data.i18n;
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var state = null;
  var offset = 0;          // server clock − this browser's clock (ms), from each state's server_time
  var pending = {};        // commands in flight (a second press waits for the first)

  var $ = window.LiveCommon.$, el = window.LiveCommon.el;  // static/live/common.js
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }
  function num(value) {
    if (value === null || value === undefined) return "";
    var n = Math.round(Number(value) * 100) / 100;
    return String(n);
  }
  function signed(value) {
    if (!value) return "";
    return (value > 0 ? "+" : "−") + num(Math.abs(value));
  }
  function clock(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function answerText(q) {
    var a = q.answer;
    if (a === undefined || a === null) return "";
    if (Array.isArray(a)) {
      return a.map(function (b) { return Array.isArray(b) ? b.join(" / ") : b; }).join(" | ");
    }
    if (q.widget === "truefalse") return a === "正确" ? T["true"] : a === "错误" ? T["false"] : a;
    if (q.options && q.options.length) {
      var texts = [];
      String(a).split("").forEach(function (letter) {
        q.options.forEach(function (o) { if (o.key === letter) texts.push(letter + ". " + o.text); });
      });
      if (texts.length) return texts.join("；");
    }
    return String(a);
  }

  // ---------------------------------------------------------------- errors
  function showError(command, message) {
    var box = $("command-error");
    var text = fmt(T.failed, {command: T.commands[command] || command, error: message});
    $("command-error-text").textContent = text;
    var item = el("li", null, clock(new Date().toISOString()).slice(0, 8) + " " + text);
    var log = $("command-errors");
    log.insertBefore(item, log.firstChild);
    while (log.children.length > 10) log.removeChild(log.lastChild);
    box.hidden = false;
  }
  $("command-error-close").addEventListener("click", function () {
    $("command-error").hidden = true;
    $("command-errors").textContent = "";
  });

  // ---------------------------------------------------------------- commands
  function send(command, body) {
    if (pending[command]) return Promise.resolve(null);
    pending[command] = true;
    root.classList.add("busy");
    return fetch(data.command.replace("__command__", encodeURIComponent(command)), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": CSRF},
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (reply) {
        if (!res.ok) {
          showError(command, reply.error || (res.status + " " + res.statusText));
          return null;
        }
        apply(reply);
        return reply;
      });
    }, function () {
      showError(command, T.no_connection);
      return null;
    }).then(function (reply) {
      delete pending[command];
      if (!Object.keys(pending).length) root.classList.remove("busy");
      return reply;
    });
  }

  function press(button) {
    if (button.disabled) return;
    var command = button.getAttribute("data-command");
    var body = {};
    if (command === "judge") body.right = button.getAttribute("data-right") === "1";
    if (command === "sound") body.on = !(state && state.contest.sound);
    if (command === "finish" && !window.confirm(T.confirm_finish)) return;
    send(command, body);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-command]");
    if (button && root.contains(button)) { press(button); return; }
    var opener = event.target.closest && event.target.closest("button[data-open-question]");
    if (opener) send("open", {question: Number(opener.getAttribute("data-open-question"))});
  });

  $("wager-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    send("wager", {entrant: Number(form.entrant.value), value: Number(form.value.value)});
  });

  $("correct-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    send("correct", {entrant: Number(form.entrant.value), points: form.points.value, reason: form.reason.value})
      .then(function (reply) { if (reply) { form.points.value = ""; form.reason.value = ""; } });
  });

  // ---------------------------------------------------------------- keyboard
  var KEYS = {o: "open", s: "start", c: "close", r: "reveal", n: "next", u: "undo", b: "scoreboard", m: "sound"};
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName))) return;
    if (document.querySelector("dialog[open]")) return;
    var key = (event.key || "").toLowerCase();
    var selector = null;
    if (KEYS[key]) selector = 'button[data-command="' + KEYS[key] + '"]';
    else if (key === "y") selector = 'button[data-command="judge"][data-right="1"]';
    else if (key === "x") selector = 'button[data-command="judge"][data-right="0"]';
    else if (key === "p") selector = 'button[data-command="' + (state && state.contest.paused ? "resume" : "pause") + '"]';
    if (!selector) return;
    var button = root.querySelector(selector);
    if (!button) return;
    event.preventDefault();
    button.classList.add("pressed");
    setTimeout(function () { button.classList.remove("pressed"); }, 150);
    press(button);
  });

  // ---------------------------------------------------------------- rendering
  function currentRound() {
    if (!state || !state.round || !state.run_sheet) return null;
    return state.run_sheet[state.round.index - 1] || null;
  }

  function renderHead() {
    var c = state.contest;
    root.setAttribute("data-phase", c.phase);
    root.setAttribute("data-status", c.status);
    var phase = $("phase");
    phase.textContent = data.phases[c.phase] || c.phase;
    phase.setAttribute("data-phase", c.phase);
    $("contest-status").textContent = data.statuses[c.status] || c.status;
    $("paused").hidden = !c.paused;
    $("phones").textContent = c.players;
    var sound = root.querySelector('button[data-command="sound"]');
    sound.setAttribute("aria-pressed", c.sound ? "true" : "false");
    sound.querySelector("[data-sound-label]").textContent = c.sound ? T.sound_on : T.sound_off;
    var edit = $("edit-link");
    if (edit) edit.hidden = c.status !== "setup";
  }

  function renderButtons() {
    var c = state.contest, q = state.question;
    var finished = c.status === "finished";
    var open = q && q.status === "open";
    var started = open && !!q.started_at;
    // judged on stage: the entrant whose turn it is, or (buzzer rounds) the first one who buzzed
    var stageJudged = started && !q.phones && (!q.buzzer || !!q.answering);
    function set(selector, enabled) {
      root.querySelectorAll(selector).forEach(function (b) { b.disabled = !enabled; });
    }
    set('[data-command="open"]', !finished && !open);
    set('[data-command="start"]', !finished && open && (!q.started_at || c.phase === "open"));
    set('[data-command="close"]', !finished && open);
    set('[data-command="reveal"]', !finished && q && q.status === "closed");
    set('[data-command="next"]', !finished);
    set('[data-command="judge"]', !finished && stageJudged && !c.paused);
    set('[data-command="pause"]', !finished && !c.paused);
    set('[data-command="resume"]', !finished && c.paused);
    set('[data-command="undo"]', !finished && !!state.can_undo);
    set('[data-command="scoreboard"]', !finished);
    set('[data-command="finish"]', !finished);
    root.querySelectorAll("[data-open-question]").forEach(function (b) {
      var li = b.closest("[data-question]");
      b.disabled = finished || open || li.getAttribute("data-status") !== "pending";
    });
  }

  function renderSheet() {
    var sheet = state.run_sheet || [];
    var seen = {};
    var changed = false;
    var current = state.question ? String(state.question.id) : null;
    sheet.forEach(function (r) {
      var round = document.querySelector('#run-sheet [data-round="' + r.round + '"]');
      if (round) round.classList.toggle("skipped", !!r.skipped);
      r.questions.forEach(function (q) {
        seen[q.id] = true;
        var li = document.querySelector('#run-sheet [data-question="' + q.id + '"]');
        if (!li) { changed = true; return; }
        li.setAttribute("data-status", q.status);
        li.classList.toggle("current", String(q.id) === current);
        li.querySelector("[data-status-label]").textContent = data.question_status[q.status] || q.status;
      });
    });
    document.querySelectorAll("#run-sheet [data-question]").forEach(function (li) {
      if (!seen[li.getAttribute("data-question")]) changed = true;
    });
    $("sheet-changed").hidden = !changed;
  }

  function nextPending() {
    var found = null;
    (state.run_sheet || []).some(function (r) {
      if (r.skipped) return false;
      return r.questions.some(function (q) { if (q.status === "pending") { found = q; return true; } return false; });
    });
    return found;
  }

  function renderCurrent() {
    var q = state.question, box = $("current");
    var r = state.round;
    $("round-label").textContent = r ? fmt(T.round, {n: r.index, of: r.of}) + " · " + r.title + " (" + r.label + ")" : "";
    $("question-label").textContent = q ? fmt(T.question, {n: q.number, of: q.of}) + " · " + fmt(T.points, {points: num(q.points)}) : "";
    box.textContent = "";
    if (!q) {
      box.appendChild(el("p", "muted", T.no_question));
      var next = nextPending();
      var preview = next && document.querySelector('#run-sheet [data-question="' + next.id + '"] .preview');
      if (preview) {
        box.appendChild(el("p", "next-up", T.next_up));
        box.appendChild(preview.cloneNode(true));
      } else if (!next) {
        box.appendChild(el("p", "muted", T.none_left));
      }
      return;
    }
    var meta = el("p", "q-meta");
    meta.appendChild(el("span", "badge", q.label || q.type || ""));
    meta.appendChild(el("span", null, q.phones ? T.phones : T.stage));
    box.appendChild(meta);
    box.appendChild(el("div", "q-stem big", q.stem || ""));
    if (q.options && q.options.length) {
      var list = el("ol", "options big");
      var right = String(q.answer || "");
      q.options.forEach(function (o) {
        var li = el("li", right.indexOf(o.key) >= 0 && q.widget !== "truefalse" ? "right" : "");
        li.appendChild(el("b", null, o.key + " "));
        li.appendChild(document.createTextNode(o.text));
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    var answer = el("p", "host-answer");
    answer.appendChild(el("span", null, T.answer + " "));
    answer.appendChild(el("b", null, answerText(q)));
    box.appendChild(answer);
    if (q.explanation) box.appendChild(el("p", "q-explanation", T.explanation + " " + q.explanation));
  }

  function renderFacts() {
    var q = state.question;
    var turn = $("turn"), stake = $("stake"), judged = $("judged");
    turn.textContent = "";
    stake.hidden = true;
    judged.hidden = true;
    $("answered-line").hidden = true;
    if (!q) return;
    var parts = [];
    if (q.answering) parts.push(fmt(T.answering, {name: q.answering.name}));
    else if (q.turn) parts.push(fmt(T.turn, {name: q.turn.name}));
    if (q.eligible && q.eligible.length) parts.push(fmt(T.eligible, {names: q.eligible.join("、")}));
    if (q.out && q.out.length) parts.push(fmt(T.out, {names: q.out.join("、")}));
    turn.textContent = parts.join(" · ");
    if (q.wager) {
      stake.hidden = false;
      stake.textContent = q.stake !== null && q.stake !== undefined ? fmt(T.stake, {value: num(q.stake)}) : T.no_stake;
    }
    if (q.judged) {
      judged.hidden = false;
      judged.textContent = fmt(q.judged.right ? T.judged_right : T.judged_wrong, {name: q.judged.name});
      judged.className = "judged " + (q.judged.right ? "right" : "wrong");
    }
    if (q.phones && (q.answered !== null && q.answered !== undefined)) {
      $("answered-line").hidden = false;
      $("answered").textContent = q.answered;
      $("players").textContent = state.contest.players;
    }
  }

  function renderBuzzes() {
    var q = state.question;
    var body = document.querySelector("#buzz-order tbody");
    body.textContent = "";
    var buzzes = (q && q.buzzes) || [];
    var first = buzzes.length ? new Date(buzzes[0].corrected_at).getTime() : 0;
    buzzes.forEach(function (b, i) {
      var tr = el("tr", i === 0 ? "first" : "");
      tr.setAttribute("data-entrant", b.entrant_id);
      tr.appendChild(el("td", null, String(b.order)));
      tr.appendChild(el("td", null, b.entrant));
      tr.appendChild(el("td", "time", clock(b.received_at)));
      tr.appendChild(el("td", "time", clock(b.corrected_at)));
      tr.appendChild(el("td", "num", b.rtt_ms === null || b.rtt_ms === undefined ? "—" : fmt(T.ms, {n: Math.round(b.rtt_ms)})));
      var behind = new Date(b.corrected_at).getTime() - first;
      tr.appendChild(el("td", "num", i === 0 ? "" : "+" + fmt(T.ms, {n: behind})));
      body.appendChild(tr);
    });
    $("no-buzzes").hidden = buzzes.length > 0;
    var early = $("early");
    early.hidden = !(q && q.early && q.early.length);
    early.textContent = q && q.early && q.early.length ? fmt(T.early, {names: q.early.join("、")}) : "";
  }

  function renderDistribution() {
    var q = state.question, list = $("distribution");
    list.textContent = "";
    var counts = q && q.distribution;
    var keys = counts ? Object.keys(counts).sort() : [];
    $("distribution-box").hidden = !keys.length;
    keys.forEach(function (k) {
      var label = k === "正确" ? T["true"] : k === "错误" ? T["false"] : k;
      var li = el("li", String(q.answer || "") === k ? "right" : "");
      li.appendChild(el("b", null, label));
      li.appendChild(document.createTextNode(" " + counts[k]));
      list.appendChild(li);
    });
  }

  function optionsOf(select, items, keep) {
    var before = keep ? select.value : null;
    select.textContent = "";
    items.forEach(function (item) {
      var option = el("option", null, item[1]);
      option.value = String(item[0]);
      select.appendChild(option);
    });
    if (before !== null && items.some(function (i) { return String(i[0]) === before; })) select.value = before;
  }

  function renderForms() {
    var entrants = state.scores.map(function (s) { return [s.entrant_id, s.name]; });
    var correct = $("correct-form");
    optionsOf(correct.entrant, entrants, true);
    var q = state.question, form = $("wager-form");
    var show = !!(q && q.wager && q.status === "open" && !q.started_at);
    form.hidden = !show;
    if (show) {
      var round = currentRound();
      var values = (round && round.settings && round.settings.values) || [];
      var turn = q.turn ? String(q.turn.id) : null;
      optionsOf(form.entrant, entrants, false);
      if (turn) form.entrant.value = turn;
      var chosen = form.value.value;
      optionsOf(form.value, values.map(function (v) { return [v, num(v)]; }), false);
      if (q.stake !== null && q.stake !== undefined) form.value.value = String(q.stake);
      else if (chosen) form.value.value = chosen;
    }
  }

  function renderScores() {
    var body = document.querySelector("#scores tbody");
    body.textContent = "";
    state.scores.forEach(function (s) {
      var tr = el("tr");
      tr.setAttribute("data-entrant", s.entrant_id);
      var rank = el("td", "num", String(s.rank));
      if (s.previous_rank && s.previous_rank !== s.rank) {
        rank.appendChild(el("span", s.previous_rank > s.rank ? "up" : "down", s.previous_rank > s.rank ? " ▲" : " ▼"));
      }
      tr.appendChild(rank);
      tr.appendChild(el("td", null, s.name));
      var code = el("td");
      code.appendChild(el("code", null, s.team_code || ""));
      tr.appendChild(code);
      tr.appendChild(el("td", "num total", num(s.total)));
      tr.appendChild(el("td", "num " + (s.last > 0 ? "gain" : s.last < 0 ? "loss" : ""), signed(s.last)));
      body.appendChild(tr);
    });
  }

  function renderLedger() {
    var list = $("ledger");
    list.textContent = "";
    (state.ledger || []).forEach(function (e) {
      var li = el("li", "kind-" + e.kind);
      li.setAttribute("data-kind", e.kind);
      li.appendChild(el("span", "time", clock(e.at).slice(0, 8)));
      li.appendChild(el("b", null, e.entrant));
      li.appendChild(el("span", "points " + (e.points > 0 ? "gain" : e.points < 0 ? "loss" : ""), signed(e.points) || "0"));
      li.appendChild(el("span", "kind", data.kinds[e.kind] || e.kind));
      if (e.reason && e.reason !== data.kinds[e.kind]) li.appendChild(el("span", "reason", e.reason));
      if (e.by) li.appendChild(el("span", "by muted", fmt(T.by, {name: e.by})));
      list.appendChild(li);
    });
  }

  function tick() {
    var box = $("countdown");
    if (!state) return;
    var q = state.question;
    box.classList.remove("low", "over");
    if (state.contest.paused) { box.textContent = T.paused; return; }
    if (!q || q.status !== "open") { box.textContent = "—"; return; }
    if (!q.deadline) {
      box.textContent = q.wager && (q.stake === null || q.stake === undefined) ? T.waiting_stake : T.not_started;
      return;
    }
    var left = (new Date(q.deadline).getTime() - (Date.now() + offset)) / 1000;
    if (left <= 0) { box.textContent = T.time_up; box.classList.add("over"); return; }
    box.textContent = String(Math.ceil(left));
    if (left <= 5) box.classList.add("low");
  }

  function apply(next) {
    if (!next || !next.contest) return;
    if (state && next.contest.version < state.contest.version) return;  // older than what is shown
    state = next;
    if (next.server_time) offset = new Date(next.server_time).getTime() - Date.now();
    renderHead();
    renderSheet();
    renderCurrent();
    renderFacts();
    renderBuzzes();
    renderDistribution();
    renderForms();
    renderScores();
    renderLedger();
    renderButtons();
    tick();
  }

  // ---------------------------------------------------------------- the stream
  function connection(name) {
    var box = $("connection");
    box.setAttribute("data-state", name);
    box.textContent = T[name];
  }

  function listen() {
    if (!window.EventSource) return;
    var source = new EventSource(data.stream);
    source.addEventListener("open", function () { connection("live"); });
    source.addEventListener("state", function (event) {
      connection("live");
      try { apply(JSON.parse(event.data)); } catch (e) { /* a broken frame: the next one replaces it */ }
    });
    source.addEventListener("error", function () {
      connection("reconnecting");
      if (source.readyState === EventSource.CLOSED) setTimeout(listen, 3000);  // the browser gave up: start again
    });
  }

  apply(data.state);
  setInterval(tick, 250);
  listen();
})();
