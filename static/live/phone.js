// The phone of a live contest (templates/live/phone.html). Mobile-first, plain ES5 + fetch (runs
// in WeChat's browser); no build step.
//
// - Joining: name, phone number, unit (and a team code for teams) → POST /api/v1/live/join/<code>.
//   The player token and the answer sheet's token are kept in localStorage, so a reload rejoins
//   at once; on a new phone, joining with the same phone number gives the same player back
//   (score and place kept).
// - The state comes from the push stream (EventSource /live/<id>/stream?token=…, which reconnects
//   by itself and starts with the current state); a mark shows while it is down.
// - Answers on phones are saves on the player's answer sheet (PUT /api/v1/attempts/<sheet>/
//   answers/<question>, the one answer-save rule): each choice is kept in localStorage until the
//   server has acknowledged it, and resent with back-off when the network blips; a 409 means the
//   question is closed (or paused: resent on resume).
// - The buzzer and the stake buttons follow me.may_buzz and me.may_wager.
// - The phone pings the server's clock (GET /live/clock: no token, nothing written) a few times
//   after joining, every PING_MS (5 s) while a round with a buzzer runs and every IDLE_PING_MS
//   otherwise; it keeps the round trips it measured and sends the latest ones with its buzz, so
//   the buzz is timed fairly (docs/rules.md "Fair timing"); the same pings give this clock's
//   offset from the server's for the countdown.
(function () {
  "use strict";
  var dataEl = document.getElementById("phone-data");
  if (!dataEl) return;
  var D = JSON.parse(dataEl.textContent);
  var T = D.i18n;
  var JUDGE = ["正确", "错误"]; // canonical 判断 responses (data, not UI text)
  var PING_MS = 5000;       // while a round with a buzzer runs
  var IDLE_PING_MS = 20000; // otherwise (the countdown's clock offset)
  var RTT_SAMPLES = 7;
  var KEY = "live-phone:" + D.code;

  var C = window.LiveCommon;  // static/live/common.js
  var $ = C.$, fmt = C.fmt, num = C.num, signed = C.signed, el = C.el, parseTime = C.parseTime,
      setHidden = C.setHidden, setText = C.setText;
  var root = $("phone");
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
  function load(key) {
    try { var raw = window.localStorage.getItem(key); return raw ? JSON.parse(raw) : null; } catch (e) { return null; }
  }
  function store(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: keep going */ }
  }

  // ------------------------------------------------------------ network
  function request(method, url, body, token) {
    var controller = typeof AbortController !== "undefined" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, 10000) : null;
    var headers = {"Accept": "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    var init = {method: method, headers: headers, credentials: "same-origin", cache: "no-store",
                body: body === undefined ? undefined : JSON.stringify(body)};
    if (controller) init.signal = controller.signal;
    return fetch(url, init).then(function (res) {
      if (timer) clearTimeout(timer);
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        return {ok: res.ok, status: res.status, body: json || {}};
      });
    }, function (err) {
      if (timer) clearTimeout(timer);
      throw err;
    });
  }

  // ------------------------------------------------------------ who I am (kept on this phone)
  var me = load(KEY) || {};  // {token, player_id, sheet: {attempt_id, token}, name, phone, unit, team_code}
  var form = $("join");
  ["name", "phone", "unit", "team_code"].forEach(function (field) {
    var input = form.elements[field];
    if (input && me[field] && !input.value) input.value = me[field];
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {};
    ["name", "phone", "unit", "team_code", "code"].forEach(function (field) {
      var input = form.elements[field];
      if (input && input.value.trim()) body[field] = input.value.trim();
    });
    var button = $("join-submit"), error = $("join-error");
    button.disabled = true;
    error.hidden = true;
    setText(button, T.joining);
    request("POST", D.join, body).then(function (res) {
      button.disabled = false;
      button.textContent = button.getAttribute("data-label");
      if (!res.ok) {
        error.textContent = res.body.error || String(res.status);
        error.hidden = false;
        return;
      }
      me = {token: res.body.token, player_id: res.body.player_id, sheet: res.body.sheet, name: body.name,
            phone: body.phone, unit: body.unit, team_code: body.team_code};
      store(KEY, me);
      enter(res.body.state);
    }, function () {
      button.disabled = false;
      button.textContent = button.getAttribute("data-label");
      error.textContent = T.no_connection;
      error.hidden = false;
    });
  });
  $("join-submit").setAttribute("data-label", $("join-submit").textContent);

  function forget(message) {
    if (source) { source.close(); source = null; }
    me.token = null;
    me.sheet = null;
    store(KEY, me);
    state = null;
    root.setAttribute("data-view", "join");
    setHidden($("play-view"), true);
    setHidden($("join-view"), false);
    if (message) {
      $("join-error").textContent = message;
      $("join-error").hidden = false;
    }
  }
  $("leave").addEventListener("click", function () {
    forget(null);
    form.elements.phone.value = "";
    form.elements.name.value = "";
  });

  // ------------------------------------------------------------ the stream
  var state = null;
  var source = null;
  var retry = 1000;
  var markTimer = null;
  function online(ok) {
    root.setAttribute("data-connection", ok ? "live" : "reconnecting");
    if (ok) {
      if (markTimer) { clearTimeout(markTimer); markTimer = null; }
      setHidden($("conn"), true);
    } else if (!markTimer) {
      markTimer = setTimeout(function () { setHidden($("conn"), false); }, 1200);
    }
  }
  function connect() {
    if (source) source.close();
    if (!me.token) return;
    source = new EventSource(D.stream + "?token=" + encodeURIComponent(me.token));
    source.addEventListener("state", function (event) {
      online(true);
      retry = 1000;
      var next;
      try { next = JSON.parse(event.data); } catch (e) { return; }
      apply(next);
    });
    source.onopen = function () { online(true); };
    source.onerror = function () {
      online(false);
      if (source && source.readyState === 2) {  // refused (a wrong token?) or a proxy's error page
        var token = me.token;
        request("GET", D.state, undefined, token).then(function (res) {
          if (res.status === 401 && me.token === token) { forget(T.rejoin); return; }
          if (res.ok) apply(res.body);
          setTimeout(connect, retry);
          retry = Math.min(retry * 2, 15000);
        }, function () {
          setTimeout(connect, retry);
          retry = Math.min(retry * 2, 15000);
        });
      }
    };
  }
  window.addEventListener("online", function () { if (me.token) { connect(); flush(); } });
  window.addEventListener("offline", function () {
    if (source) { source.close(); source = null; }
    online(false);
  });

  function enter(initial) {
    root.setAttribute("data-view", "play");
    setHidden($("join-view"), true);
    setHidden($("play-view"), false);
    $("join-error").hidden = true;
    loadAnswers();
    if (initial) apply(initial);
    connect();
    ping();
    flush();
    wakeLock();
  }

  function apply(next) {
    if (!next || !next.contest) return;
    if (state && next.contest.version < state.contest.version) return;
    var before = state;
    state = next;
    if (before && before.contest.paused && !next.contest.paused) flush();  // answers held while paused
    render();
  }

  // ------------------------------------------------------------ clock and pings (fair buzz timing)
  var offset = 0;
  var samples = [];
  var rtts = [];  // the latest round trips (ms), sent with a buzz
  var pings = 0, lastPing = 0;
  function serverNow() { return Date.now() + offset; }
  function ping() {
    if (!me.token) return;
    var t0 = performance.now(), w0 = Date.now();
    pings += 1;
    lastPing = Date.now();
    request("GET", D.clock).then(function (res) {
      var rtt = performance.now() - t0;
      if (!res.ok) return;
      if (!source) connect();  // the network is back after an "offline" event
      rtts.push(Math.round(rtt * 10) / 10);
      rtts = rtts.slice(-RTT_SAMPLES);
      var server = parseTime(res.body.server_time);
      if (server !== null) {
        samples.push([rtt, server - w0 - rtt / 2]);
        samples = samples.slice(-8);
        offset = samples.slice().sort(function (a, b) { return a[0] - b[0]; })[0][1];
      }
      root.setAttribute("data-rtt", String(Math.round(rtt)));
    }, function () { /* offline: the stream's mark says so */ });
  }
  function racing() {
    var q = state && state.question;
    return !!(q && q.buzzer && q.status === "open" && q.started_at);
  }
  function buzzerRound() {
    var q = state && state.question;
    return !!(q && q.buzzer) || !!(state && state.round && (state.round.type === "buzzer" || state.round.type === "tiebreak"));
  }
  setInterval(function () {
    if (!me.token || racing() || document.visibilityState === "hidden") return;
    var every = pings < 5 ? 1000 : buzzerRound() ? PING_MS : IDLE_PING_MS;
    if (Date.now() - lastPing >= every - 100) ping();
  }, 1000);

  // ------------------------------------------------------------ answers on phones (answer sheet saves)
  var given = {};     // bank question id → the answer chosen on this phone
  var pending = {};   // bank question id → the answer not yet acknowledged by the server
  var saveState = {}; // bank question id → "saving" | "saved" | "retry" | "held" | "late"
  var saveError = {};
  var inflight = {};
  var retryDelay = 1000;
  var retryTimer = null;
  function answersKey() { return "live-answers:" + (me.sheet ? me.sheet.attempt_id : "none"); }
  function loadAnswers() {
    var saved = load(answersKey()) || {};
    given = saved.given || {};
    pending = saved.pending || {};
    Object.keys(pending).forEach(function (qid) { saveState[qid] = "retry"; });
  }
  function persist() { store(answersKey(), {given: given, pending: pending}); }
  function answerUrl(qid) {
    return D.answers.replace(/\/0\/answers\/0$/, "/" + me.sheet.attempt_id + "/answers/" + qid);
  }
  function choose(qid, value) {
    qid = String(qid);
    given[qid] = value;
    pending[qid] = value;
    persist();
    send(qid);
    render();
  }
  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 8000);
  }
  function flush() { Object.keys(pending).forEach(send); }
  function send(qid) {
    if (!me.sheet || !(qid in pending)) return;
    if (inflight[qid]) {  // one request per question at a time: an older answer never overtakes a newer one
      inflight[qid].then(function () { send(qid); });
      return;
    }
    var value = pending[qid];
    saveState[qid] = "saving";
    renderSave();
    inflight[qid] = request("PUT", answerUrl(qid), {response: value}, me.sheet.token).then(function (res) {
      inflight[qid] = null;
      if (res.ok) {
        retryDelay = 1000;
        if (same(pending[qid], value)) delete pending[qid];
        saveState[qid] = qid in pending ? "saving" : "saved";
      } else if (res.status === 409 && state && state.contest.paused && currentQid() === qid) {
        saveState[qid] = "held";  // paused: sent again on resume
      } else if (res.status === 429 || res.status === 408 || res.status >= 500) {
        saveState[qid] = "retry";
        scheduleRetry();
      } else {
        if (same(pending[qid], value)) delete pending[qid];
        saveState[qid] = "late";
        saveError[qid] = res.body.error || String(res.status);
      }
      persist();
      renderSave();
    }, function () {
      inflight[qid] = null;
      saveState[qid] = "retry";
      online(false);
      renderSave();
      scheduleRetry();
    });
  }
  function currentQid() {
    var q = state && state.question;
    return q && q.question_id ? String(q.question_id) : null;
  }
  function shown(q, value) {
    if (value === undefined || value === null || value === "") return "—";
    if (q && q.widget === "truefalse") return value === JUDGE[0] ? T["true"] : value === JUDGE[1] ? T["false"] : value;
    if (Array.isArray(value)) return value.join(T.separator);
    return String(value);
  }

  // ------------------------------------------------------------ buzz and stake
  var buzzed = null;  // {question, at, early}
  var buzzNote = null;
  function buzz() {
    var q = state && state.question;
    var button = $("buzz");
    if (!q || button.disabled) return;
    button.disabled = true;
    button.classList.add("pressed");
    if (navigator.vibrate) { try { navigator.vibrate(40); } catch (e) { /* ignore */ } }
    buzzed = {question: q.id, at: Date.now(), early: false};
    request("POST", D.buzz, {rtt: rtts}, me.token).then(function (res) {
      if (res.ok) {
        buzzed.early = !!res.body.early;
        buzzNote = res.body.early ? T.buzz_early : res.body.accepted ? T.buzz_sent : T.buzz_late;
        root.setAttribute("data-buzz", res.body.early ? "early" : res.body.accepted ? "accepted" : "late");
      } else {
        buzzed = null;
        buzzNote = res.body.error || String(res.status);
        root.setAttribute("data-buzz", "refused");
      }
      render();
    }, function () {
      buzzed = null;
      buzzNote = T.no_connection;
      render();
    });
  }
  $("buzz").addEventListener("pointerdown", function (event) { event.preventDefault(); buzz(); });
  $("buzz").addEventListener("click", function (event) { if (event.detail === 0) buzz(); });  // keyboard

  var stakeNote = null;
  $("stake-buttons").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-stake]");
    if (!button || button.disabled) return;
    var value = Number(button.getAttribute("data-stake"));
    Array.prototype.forEach.call($("stake-buttons").children, function (b) { b.disabled = true; });
    request("POST", D.wager, {value: value}, me.token).then(function (res) {
      stakeNote = res.ok ? null : res.body.error || String(res.status);
      if (res.ok && state && state.question) state.question.stake = value;
      render();
    }, function () {
      stakeNote = T.no_connection;
      render();
    });
  });

  // ------------------------------------------------------------ rendering
  var questionKey = null;
  function render() {
    var s = state;
    if (!s) return;
    var c = s.contest, q = s.question, mine = s.me || {};
    root.setAttribute("data-phase", c.phase);
    root.setAttribute("data-paused", c.paused ? "1" : "0");
    setText($("my-name"), mine.entrant || "");
    setText($("my-player"), c.mode === "teams" && me.name ? fmt(T.player, {name: me.name}) : "");
    setText($("my-score"), mine.total !== undefined ? num(mine.total) : "—");
    setText($("my-rank"), mine.rank ? mine.rank + " / " + mine.of : "—");  // under the label 名次

    var status = "";
    var showQuestion = !!q && c.phase !== "scoreboard" && c.phase !== "podium" && c.phase !== "lobby";
    if (c.phase === "lobby" || (!q && c.phase !== "podium")) status = T.waiting_start;
    if (c.phase === "scoreboard") status = T.scoreboard;
    if (c.phase === "podium") status = fmt(T.final, {rank: mine.rank || "—", score: mine.total !== undefined ? num(mine.total) : "—"});
    if (showQuestion) status = renderQuestion(s, q, mine);
    setHidden($("question"), !showQuestion || !!q.hidden);  // a 风险题 shows once its stake is chosen
    if (c.paused) status = T.paused;
    setText($("status"), status);
    renderStakes(s, q, mine, showQuestion);
    renderBuzz(s, q, mine, showQuestion);
    renderFeedback(s, q, mine, showQuestion);
    renderSave();
    tick();
  }

  function renderQuestion(s, q, mine) {
    setText($("q-number"), fmt(T.number, {n: q.number, total: q.of}));
    setText($("q-type"), s.round ? s.round.label : "");
    var points = q.wager ? (q.stake !== null && q.stake !== undefined ? fmt(T.points, {points: num(q.stake)}) : "")
      : fmt(T.points, {points: num(q.points)});
    setText($("q-points"), points);
    var open = q.status === "open" && !!q.started_at && !s.contest.paused;
    var qid = q.question_id ? String(q.question_id) : null;
    var key = [q.id, q.hidden, q.status, q.phones, open, q.image || ""].join("|");
    if (key !== questionKey) {
      questionKey = key;
      setText($("q-stem"), q.hidden ? "" : q.stem || "");
      var img = $("q-image-img");
      if (q.image && !q.hidden) { if (img.getAttribute("src") !== q.image) img.setAttribute("src", q.image); $("q-image").hidden = false; }
      else { $("q-image").hidden = true; img.removeAttribute("src"); }
      buildOptions(q, qid, open);
    }
    markChosen(q, qid);
    // what this phone should do now
    if (q.hidden) return q.turn ? (mine.may_wager ? "" : q.stake !== null && q.stake !== undefined ?
      fmt(T.stake_of, {name: q.turn.name, value: num(q.stake)}) : fmt(T.stake_wait, {name: q.turn.name})) : T.look_up;
    if (q.status !== "open") return q.status === "revealed" ? "" : T.closed;
    if (q.phones) return q.started_at ? T.answer_now : T.get_ready;
    if (q.buzzer) {
      if (q.answering) return q.answering.id === mine.entrant_id ? T.answering_me : fmt(T.answering_other, {name: q.answering.name});
      return "";
    }
    if (q.turn) return q.turn.id === mine.entrant_id ? T.your_turn : fmt(T.turn_other, {name: q.turn.name});
    return T.look_up;
  }

  function buildOptions(q, qid, open) {
    var box = $("options"), blanks = $("blanks");
    box.textContent = "";
    blanks.textContent = "";
    setHidden(blanks, true);
    if (q.hidden) return;
    var answerable = q.phones && !!qid;
    if (q.widget === "blanks") {
      if (!answerable) return;
      var values = Array.isArray(given[qid]) ? given[qid] : [];
      for (var i = 0; i < (q.blanks || 1); i++) {
        var label = el("label", "field");
        label.appendChild(el("span", null, fmt(T.blank_label, {n: i + 1})));
        var input = el("input");
        input.type = "text";
        input.setAttribute("data-blank", String(i));
        input.value = values[i] || "";
        input.disabled = !open;
        label.appendChild(input);
        blanks.appendChild(label);
      }
      var send = el("button", "primary block", T.send);
      send.type = "button";
      send.id = "send-blanks";
      send.disabled = !open;
      send.addEventListener("click", function () {
        var out = Array.prototype.map.call(blanks.querySelectorAll("input[data-blank]"), function (x) { return x.value.trim(); });
        choose(qid, out);
      });
      blanks.appendChild(send);
      setHidden(blanks, false);
      return;
    }
    var opts = q.widget === "truefalse" ? [{key: JUDGE[0], mark: "✓", text: T["true"]}, {key: JUDGE[1], mark: "✗", text: T["false"]}]
      : (q.options || []).map(function (o) { return {key: o.key, mark: o.key, text: o.text}; });
    box.className = "lp-options" + (q.widget === "truefalse" ? " two" : "") + (answerable ? "" : " read-only");
    opts.forEach(function (o) {
      var node;
      if (answerable) {
        node = el("button", "lp-opt");
        node.type = "button";
        node.setAttribute("data-answer", o.key);
        node.disabled = !open;
        node.setAttribute("aria-pressed", "false");
      } else {
        node = el("div", "lp-opt");
        node.setAttribute("data-key", o.key);
      }
      node.appendChild(el("span", "key", o.mark));
      node.appendChild(el("span", "text", o.text));
      box.appendChild(node);
    });
  }
  $("options").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-answer]");
    var q = state && state.question;
    if (!button || button.disabled || !q || !q.question_id) return;
    var qid = String(q.question_id), key = button.getAttribute("data-answer");
    if (q.widget === "many") {
      var chosen = String(given[qid] || "").split("").filter(Boolean);
      var at = chosen.indexOf(key);
      if (at >= 0) chosen.splice(at, 1); else chosen.push(key);
      choose(qid, chosen.sort().join(""));
    } else {
      choose(qid, key);
    }
  });
  function markChosen(q, qid) {
    var value = qid ? given[qid] : undefined;
    var right = q.status === "revealed" && q.answer !== undefined && q.widget !== "blanks" ?
      (q.widget === "truefalse" ? [String(q.answer)] : String(q.answer).split("")) : null;
    Array.prototype.forEach.call($("options").children, function (node) {
      var key = node.getAttribute("data-answer") || node.getAttribute("data-key");
      var picked = value !== undefined && value !== null &&
        (q.widget === "many" ? String(value).indexOf(key) >= 0 : value === key);
      node.classList.toggle("chosen", !!picked);
      if (node.tagName === "BUTTON") node.setAttribute("aria-pressed", picked ? "true" : "false");
      node.classList.toggle("right", !!(right && right.indexOf(key) >= 0));
    });
  }

  function renderSave() {
    var node = $("save");
    var q = state && state.question;
    var qid = currentQid();
    if (!q || !q.phones || !qid || !(qid in saveState)) { setHidden(node, true); return; }
    var st = saveState[qid], answer = shown(q, given[qid]);
    var text = st === "saving" ? T.saving : st === "saved" ? fmt(T.saved, {answer: answer})
      : st === "retry" ? fmt(T.retrying, {answer: answer}) : st === "held" ? fmt(T.paused_keep, {answer: answer})
      : fmt(T.too_late, {error: saveError[qid] || ""});
    setText(node, text);
    node.className = "lp-save " + st;
    root.setAttribute("data-save", st);
    setHidden(node, false);
  }

  function renderStakes(s, q, mine, showQuestion) {
    var box = $("stakes");
    var show = showQuestion && q && q.wager && q.status === "open" && !q.started_at && mine.may_wager && mine.values;
    setHidden(box, !show);
    if (!show) return;
    var buttons = $("stake-buttons");
    var key = mine.values.join(",") + "|" + q.stake;
    if (buttons.getAttribute("data-items") !== key) {
      buttons.setAttribute("data-items", key);
      buttons.textContent = "";
      mine.values.forEach(function (v) {
        var b = el("button", "stake" + (q.stake === v ? " chosen" : ""), num(v));
        b.type = "button";
        b.setAttribute("data-stake", num(v));
        buttons.appendChild(b);
      });
    }
    Array.prototype.forEach.call(buttons.children, function (b) { b.disabled = false; });
    var note = box.querySelector(".stake-note");
    if (!note) { note = el("p", "stake-note"); box.appendChild(note); }
    setText(note, stakeNote || (q.stake !== null && q.stake !== undefined ? fmt(T.stake_mine, {value: num(q.stake)}) : ""));
  }

  function renderBuzz(s, q, mine, showQuestion) {
    var area = $("buzz-area"), button = $("buzz"), note = $("buzz-note");
    var show = showQuestion && q && q.buzzer && q.status === "open";
    setHidden(area, !show);
    if (!show) { button.classList.remove("pressed"); buzzNote = null; return; }
    if (buzzed && buzzed.question !== q.id) { buzzed = null; buzzNote = null; }
    var inRace = (q.buzzes || []).filter(function (b) { return b.entrant_id === mine.entrant_id; })[0];
    var waiting = buzzed && !inRace && !buzzed.early && Date.now() - buzzed.at < 2000;  // the stream has not caught up
    var spent = !!inRace || (buzzed && buzzed.early) || waiting;
    button.disabled = !mine.may_buzz || !!spent || s.contest.paused;
    button.classList.toggle("armed", !q.started_at);
    button.classList.toggle("pressed", !!spent);
    var text;
    if (inRace) text = fmt(T.buzz_accepted, {order: inRace.order});
    else if (buzzNote) text = buzzNote;
    else if (!mine.may_buzz) text = q.answering && q.answering.id === mine.entrant_id ? T.answering_me : T.buzz_locked;
    else text = q.started_at ? T.buzz_open : T.buzz_armed;
    setText(note, text);
    if (!inRace && buzzed && !buzzed.early && !waiting) { buzzed = null; buzzNote = null; }  // a new race: buzz again
  }

  function renderFeedback(s, q, mine, showQuestion) {
    var box = $("feedback");
    var lines = [], mood = "";
    if (showQuestion && q) {
      var qid = currentQid();
      if (q.judged) {
        if (q.judged.name === mine.entrant) {
          mood = q.judged.right ? "right" : "wrong";
          lines.push((q.judged.right ? T.right : T.wrong) + (mine.last ? "  " + fmt(T.points_won, {points: signed(mine.last)}) : ""));
        } else {
          lines.push(fmt(q.judged.right ? T.judged_other_right : T.judged_other_wrong, {name: q.judged.name}));
        }
      } else if (q.phones && q.status === "revealed" && qid) {
        var value = given[qid];
        if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.join(""))) {
          mood = "none";
          lines.push(T.no_answer);
        } else {
          var right = isRight(q, value);
          mood = right === null ? (mine.last > 0 ? "right" : "wrong") : right ? "right" : "wrong";
          lines.push((mood === "right" ? T.right : T.wrong) + (mine.last ? "  " + fmt(T.points_won, {points: signed(mine.last)}) : ""));
        }
      }
      if (q.status === "revealed" && q.answer !== undefined) lines.push(fmt(T.answer_is, {answer: answerText(q)}));
    }
    box.textContent = "";
    lines.forEach(function (line, i) { box.appendChild(el(i === 0 && mood ? "strong" : "p", null, line)); });
    box.className = "lp-feedback" + (mood ? " " + mood : "");
    root.setAttribute("data-feedback", mood);
    setHidden(box, !lines.length);
  }
  function isRight(q, value) {
    if (q.widget === "blanks") return null;  // graded on the server (alternatives, spaces): see the points
    if (q.widget === "many") return String(value).split("").sort().join("") === String(q.answer).split("").sort().join("");
    return String(value) === String(q.answer);
  }
  function answerText(q) {
    var a = q.answer;
    if (Array.isArray(a)) return a.map(function (alts) { return Array.isArray(alts) ? alts.join(" / ") : String(alts); }).join(T.separator);
    return shown(q, a);
  }

  // ------------------------------------------------------------ countdown
  function tick() {
    var node = $("timer");
    var q = state && state.question;
    if (!q || q.status !== "open" || !q.started_at || !q.deadline) { setHidden(node, true); return; }
    var end = parseTime(q.deadline);
    var now = state.contest.paused && state.contest.paused_at ? parseTime(state.contest.paused_at) : serverNow();
    var secs = Math.max(0, Math.ceil((end - now) / 1000));
    setText(node, fmt(T.time_left, {s: secs}));
    node.classList.toggle("warn", secs <= 5);
    setHidden(node, false);
  }
  setInterval(tick, 250);

  // ------------------------------------------------------------ keep the screen on while playing
  var lock = null;
  function wakeLock() {
    if (!navigator.wakeLock || lock || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then(function (l) {
      lock = l;
      l.addEventListener("release", function () { lock = null; });
    }, function () { /* not allowed: fine */ });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && me.token) { wakeLock(); ping(); }
  });

  // ------------------------------------------------------------ start
  if (me.token) enter(null);
})();
