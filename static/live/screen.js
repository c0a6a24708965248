// The big screen of a live contest (templates/live/screen.html): no controls, it shows what the
// push stream sends. The page starts from the state embedded in it, then listens to
// /live/<id>/stream?view=screen (EventSource reconnects by itself and gets the current state at
// once; a "reconnecting" mark shows while the stream is down). Countdowns run from the server's
// deadline with this machine's clock offset measured against /live/clock (the best of a few
// round trips), so a screen whose clock is wrong still counts down right.
// Sections by phase: lobby (join QR code), question (the question, its countdown, buzzes, the answer),
// scoreboard (rank changes animated: FLIP), podium. Sound cues come from static/live/sound.js and
// follow the host's sound switch. Plain ES5; no build step.
(function () {
  "use strict";
  var dataEl = document.getElementById("screen-data");
  if (!dataEl) return;
  var D = JSON.parse(dataEl.textContent);
  var T = D.i18n;
  var Sound = window.LiveSound || {play: function () { return false; }, unlock: function () {}, locked: function () { return true; }};
  var JUDGE = ["正确", "错误"]; // canonical 判断 answers (data, not UI text)

  var C = window.LiveCommon;  // static/live/common.js
  var $ = C.$, fmt = C.fmt, num = C.num, signed = C.signed, el = C.el, parseTime = C.parseTime,
      setHidden = C.setHidden, setText = C.setText;
  var root = $("screen");
  function reduced() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // ------------------------------------------------------------ clock offset (server − this clock)
  var offset = 0;
  var samples = [];  // [round trip ms, offset ms]
  function serverNow() { return Date.now() + offset; }
  function probe() {
    var t0 = performance.now(), w0 = Date.now();
    return fetch(D.clock, {cache: "no-store", credentials: "same-origin"}).then(function (res) {
      return res.json();
    }).then(function (body) {
      var rtt = performance.now() - t0;
      var server = parseTime(body.server_time);
      if (server === null) return;
      samples.push([rtt, server - w0 - rtt / 2]);
      samples = samples.slice(-8);
      var best = samples.slice().sort(function (a, b) { return a[0] - b[0]; })[0];
      offset = best[1];
      return true;
    });
  }
  function probeSoon(n) {
    probe().catch(function () { /* the stream's mark says we are offline */ }).then(function () {
      if (n > 1) setTimeout(function () { probeSoon(n - 1); }, 400);
    });
  }

  // ------------------------------------------------------------ the stream
  var state = null;
  var source = null;
  var retry = 1000;
  var markTimer = null;
  function online(ok) {
    if (ok) {
      if (markTimer) { clearTimeout(markTimer); markTimer = null; }
      setHidden($("reconnecting"), true);
      root.setAttribute("data-connection", "live");
    } else {
      root.setAttribute("data-connection", "reconnecting");
      if (!markTimer) markTimer = setTimeout(function () { setHidden($("reconnecting"), false); }, 1200);
    }
  }
  function connect() {
    if (source) source.close();
    source = new EventSource(D.stream);
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
      if (source && source.readyState === 2) {  // closed for good (e.g. a proxy's error page): reconnect ourselves
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }
  // a network change can leave a dead connection that the browser has not noticed yet
  window.addEventListener("online", function () { connect(); probeSoon(2); });
  window.addEventListener("offline", function () {  // the connection is gone: no stale event may clear the mark
    if (source) { source.close(); source = null; }
    online(false);
  });

  var wrongShown = null;  // {question, name, until}: the banner after a wrong answer that re-opened the question
  function apply(next) {
    if (!next || !next.contest) return;
    if (state && state.contest.id === next.contest.id && next.contest.version < state.contest.version) return;
    var before = state;
    state = next;
    if (before && reopened(before.question, next.question)) {
      wrongShown = {question: next.question.id, name: before.question.answering.name, until: Date.now() + 5000};
      setTimeout(function () { if (state) render(state, null); }, 5100);
    }
    render(next, before);
    cues(before, next);
  }

  // ------------------------------------------------------------ sound
  var soundCount = 0;
  function cue(name) {
    if (!state || !state.contest.sound) return;
    soundCount += 1;
    root.setAttribute("data-last-sound", name + ":" + soundCount);
    Sound.play(name);
  }
  function soundHint() {
    setHidden($("sound-hint"), !(state && state.contest.sound && Sound.locked()));
  }
  function unlock() {
    var p = Sound.unlock();
    if (p && p.then) p.then(soundHint, soundHint); else soundHint();
  }
  document.addEventListener("click", unlock);
  document.addEventListener("keydown", unlock);
  document.addEventListener("dblclick", function () {
    var d = document;
    if (d.fullscreenElement) { if (d.exitFullscreen) d.exitFullscreen(); }
    else if (d.documentElement.requestFullscreen) d.documentElement.requestFullscreen().catch(function () {});
  });

  // a wrong answer on stage re-opened the question to the others (a new race, the buzzes reset)
  function reopened(a, b) {
    return !!(a && b && a.id === b.id && a.answering && !b.answering && b.status === "open" &&
              (b.buzzes || []).length < (a.buzzes || []).length);
  }

  function cues(before, next) {
    if (!before) return;
    var a = before.question, b = next.question, ca = before.contest, cb = next.contest;
    if (cb.phase === "podium" && ca.phase !== "podium") { cue("fanfare"); return; }
    if (!b) return;
    var same = a && a.id === b.id;
    if (same && !a.started_at && b.started_at) cue("start");
    if (same && b.buzzes && (b.buzzes.length > (a.buzzes || []).length)) cue("buzz");
    if (b.judged && !(same && a.judged)) { cue(b.judged.right ? "right" : "wrong"); return; }
    if (reopened(a, b)) { cue("wrong"); return; }
    if (same && b.status === "revealed" && a.status !== "revealed" && !b.judged) cue("reveal");
  }

  // ------------------------------------------------------------ rendering
  var views = ["lobby", "question", "scoreboard", "podium"];  // section ids
  var shown = null;
  function viewFor(s) {
    var phase = s.contest.phase;
    if (phase === "podium") return "podium";
    if (phase === "scoreboard") return "scoreboard";
    if (phase === "lobby" || !s.question) return "lobby";
    return "question";
  }
  function render(s, before) {
    var c = s.contest;
    root.setAttribute("data-phase", c.phase);
    root.setAttribute("data-sound", c.sound ? "on" : "off");
    root.setAttribute("data-paused", c.paused ? "1" : "0");
    root.setAttribute("data-version", String(c.version));
    setText($("bar-title"), c.title);
    setText($("bar-round"), s.round && c.phase !== "podium" ?
      fmt(T.round, {index: s.round.index, of: s.round.of}) + " · " + (s.round.title || s.round.label) : "");
    setHidden($("paused"), !c.paused);
    var view = viewFor(s);
    var entering = view !== shown;
    views.forEach(function (v) { setHidden($(v), v !== view); });
    shown = view;
    if (view === "lobby") renderLobby(s);
    else if (view === "question") renderStage(s);
    else if (view === "scoreboard") renderScoreboard(s, entering);
    else renderPodium(s, entering);
    soundHint();
    tick();
  }

  function renderLobby(s) {
    setText($("joined"), String(s.contest.players));
    setText($("join-code"), s.contest.code);
    if (s.contest.join_url) setText($("join-url"), s.contest.join_url);
  }

  // ---- a question
  var optionsKey = null;
  function answerLetters(q) {
    if (q.answer === undefined || q.answer === null || q.status !== "revealed") return null;
    if (q.widget === "truefalse") return [String(q.answer)];
    if (q.widget === "blanks") return null;
    return String(q.answer).split("");
  }
  function answerText(q) {
    var a = q.answer;
    if (q.widget === "truefalse") return a === JUDGE[0] ? T["true"] : a === JUDGE[1] ? T["false"] : String(a);
    if (Array.isArray(a)) {
      return a.map(function (alts) { return Array.isArray(alts) ? alts.join(" / ") : String(alts); }).join(T.separator);
    }
    return String(a);
  }
  function optionList(q) {
    if (q.widget === "truefalse") return [{key: JUDGE[0], mark: "✓", text: T["true"]}, {key: JUDGE[1], mark: "✗", text: T["false"]}];
    return (q.options || []).map(function (o) { return {key: o.key, mark: o.key, text: o.text}; });
  }
  function countFor(q, key) {
    var d = q.distribution || {}, n = 0;
    Object.keys(d).forEach(function (given) {
      if (q.widget === "many" ? String(given).indexOf(key) >= 0 : given === key) n += d[given];
    });
    return n;
  }

  function renderStage(s) {
    var q = s.question, c = s.contest;
    setText($("q-number"), fmt(T.number, {n: q.number, total: q.of}));
    setText($("q-type"), s.round ? s.round.label : "");
    var points = q.wager ? (q.stake !== null && q.stake !== undefined ? fmt(T.stake, {value: num(q.stake)}) : "")
      : fmt(T.points, {points: num(q.points)});
    setText($("q-points"), points);
    setHidden($("q-points"), !points);

    // stem, image, options: rebuilt only when the question or what is shown of it changes
    var key = [q.id, q.status, q.hidden, q.stem, q.stake, q.turn && q.turn.name, JSON.stringify(q.distribution || null),
               q.image || ""].join("|");
    if (key !== optionsKey) {
      optionsKey = key;
      setText($("q-stem"), q.hidden ? "" : q.stem || "");
      setHidden($("q-stem"), !!q.hidden);
      setHidden($("q-hidden"), !q.hidden);
      if (q.hidden) {
        var staked = q.stake !== null && q.stake !== undefined;
        setText($("q-hidden"), !q.turn ? T.stake_first : staked ? fmt(T.staked, {name: q.turn.name, value: num(q.stake)})
          : fmt(T.choosing, {name: q.turn.name}));
      }
      var figure = $("q-image"), img = $("q-image-img");
      if (q.image && !q.hidden) {
        if (img.getAttribute("src") !== q.image) img.setAttribute("src", q.image);
        figure.hidden = false;
      } else {
        figure.hidden = true;
        img.removeAttribute("src");
      }
      var right = answerLetters(q);
      var list = $("options");
      list.textContent = "";
      var opts = q.hidden ? [] : optionList(q);
      var long = opts.some(function (o) { return String(o.text).length > 16; });
      list.className = "options" + (long || q.image ? " one-column" : "") + (right ? " revealed" : "");
      opts.forEach(function (o) {
        var li = el("li");
        li.setAttribute("data-key", o.key);
        if (right) li.className = right.indexOf(o.key) >= 0 ? "right" : "dim";
        li.appendChild(el("span", "key", o.mark));
        li.appendChild(el("span", "text", o.text));
        list.appendChild(li);
      });
      renderAnswer(q, opts, right);
    }

    // who is on: turn, stake, tiebreak, phones
    var who = [];
    if (q.wager && q.turn) who.push(q.stake !== null && q.stake !== undefined ? fmt(T.turn, {name: q.turn.name}) : fmt(T.choosing, {name: q.turn.name}));
    else if (q.turn) who.push(fmt(T.turn, {name: q.turn.name}));
    if (q.eligible && q.eligible.length) who.push(fmt(T.eligible, {names: q.eligible.join(T.separator)}));
    if (q.out && q.out.length) who.push(fmt(T.out, {names: q.out.join(T.separator)}));
    if (q.phones && q.status === "open") who.push(T.phones);
    var whoEl = $("who");
    setText(whoEl, who.join("\n"));
    setHidden(whoEl, !who.length);

    // buzzes in order (the first one answers)
    var buzzes = $("buzzes");
    setHidden(buzzes, !q.buzzer || q.status === "revealed");
    if (q.buzzer) {
      var ol = $("buzz-list");
      var items = (q.buzzes || []).map(function (b) { return b.order + ". " + b.entrant; }).join("\n");
      if (ol.getAttribute("data-items") !== items) {
        ol.setAttribute("data-items", items);
        ol.textContent = "";
        (q.buzzes || []).forEach(function (b, i) {
          var li = el("li", i === 0 && q.answering && q.answering.name === b.entrant ? "first" : "");
          li.setAttribute("data-entrant", String(b.entrant_id));
          li.appendChild(el("span", "order", String(b.order)));
          li.appendChild(el("span", "name", b.entrant));
          ol.appendChild(li);
        });
      }
      var early = $("early");
      setText(early, q.early && q.early.length ? fmt(T.early, {names: q.early.join(T.separator)}) : "");
      setHidden(early, !(q.early && q.early.length));
    }

    // the judging of an answer given on stage
    var judged = $("judged");
    var verdict = q.judged;
    if (!verdict && wrongShown && wrongShown.question === q.id && Date.now() < wrongShown.until && !(q.buzzes || []).length) {
      verdict = {name: wrongShown.name, right: false};
    }
    if (verdict) {
      var points = scoreOf(s, verdict.name);
      setText(judged, fmt(verdict.right ? T.right : T.wrong, {name: verdict.name}) +
        (points && points.last ? "  " + signed(points.last) : ""));
      judged.className = "judged " + (verdict.right ? "right" : "wrong");
    }
    setHidden(judged, !verdict);

    // teams: a strip with every team's total under the question
    var strip = $("strip");
    var showStrip = c.mode === "teams" && s.scores.length > 0 && s.scores.length <= 8;
    setHidden(strip, !showStrip);
    if (showStrip) {
      var text = s.scores.map(function (r) { return r.name + ":" + r.total; }).join("|");
      if (strip.getAttribute("data-items") !== text) {
        strip.setAttribute("data-items", text);
        strip.textContent = "";
        s.scores.forEach(function (r) {
          var li = el("li");
          li.setAttribute("data-entrant", String(r.entrant_id));
          li.appendChild(el("span", "name", r.name));
          li.appendChild(el("b", "total", num(r.total)));
          strip.appendChild(li);
        });
      }
    }
    requestAnimationFrame(fitStage);
  }

  function scoreOf(s, name) {
    for (var i = 0; i < s.scores.length; i++) if (s.scores[i].name === name) return s.scores[i];
    return null;
  }

  function renderAnswer(q, opts, right) {
    var box = $("answer");
    var revealed = q.status === "revealed" && q.answer !== undefined;
    setHidden(box, !revealed);
    if (!revealed) return;
    setText($("answer-text"), answerText(q));
    var dist = $("distribution");
    dist.textContent = "";
    var hasDist = q.distribution && opts.length && Object.keys(q.distribution).length;
    if (hasDist) {
      var counts = opts.map(function (o) { return countFor(q, o.key); });
      var total = Math.max(q.answered || 0, counts.reduce(function (a, b) { return Math.max(a, b); }, 0), 1);
      opts.forEach(function (o, i) {
        var row = el("div", "dist-row" + (right && right.indexOf(o.key) >= 0 ? " right" : ""));
        row.setAttribute("data-key", o.key);
        row.appendChild(el("span", "dist-key", o.mark));
        var bar = el("span", "dist-bar");
        var fill = el("span", "dist-fill");
        fill.style.width = "0%";
        bar.appendChild(fill);
        row.appendChild(bar);
        row.appendChild(el("span", "dist-count", String(counts[i])));
        dist.appendChild(row);
        var width = (100 * counts[i] / total).toFixed(1) + "%";
        if (reduced()) fill.style.width = width;
        else requestAnimationFrame(function () { requestAnimationFrame(function () { fill.style.width = width; }); });
      });
    }
    if (q.answered !== undefined && q.answered !== null && q.phones) {
      dist.appendChild(el("p", "dist-total", fmt(T.answered, {n: q.answered})));
    }
    setHidden(dist, !dist.childNodes.length);
    var explanation = $("explanation");
    setText(explanation, q.explanation || "");
    setHidden(explanation, !q.explanation);
  }

  // shrink the question (and the side panel) until it fits: nothing is cut off, nothing scrolls
  function fit(node, name, min) {
    var f = 1;
    node.style.setProperty(name, "1");
    while (node.scrollHeight > node.clientHeight + 1 && f > min) {
      f = Math.round((f - 0.05) * 100) / 100;
      node.style.setProperty(name, String(f));
    }
  }
  function fitStage() {
    if (shown !== "question") return;
    fit($("main"), "--fit", 0.4);
    fit($("side"), "--side-fit", 0.45);
  }
  window.addEventListener("resize", function () {
    fitStage();
    if (shown === "scoreboard" && state) layoutRows(state.scores.length);
  });

  // ---- countdown
  var lastSecond = {};
  function tick() {
    var box = $("countdown");
    var s = state;
    var q = s && s.question;
    if (!q || shown !== "question") return;
    var numEl = $("countdown-num"), label = $("countdown-label");
    var total = (q.time_seconds || 0) * 1000;
    var mode, secs = null, p = 0;
    if (q.status !== "open") {
      mode = "done";
      setText(label, T.closed);
    } else if (!q.started_at) {
      mode = "ready";
      secs = q.time_seconds || 0;
      p = 1;
      setText(label, q.buzzer ? T.ready : q.hidden ? "" : T.ready);
    } else {
      var end = parseTime(q.deadline);
      var now = s.contest.paused && s.contest.paused_at ? parseTime(s.contest.paused_at) : serverNow();
      var left = end === null ? 0 : Math.max(0, end - now);
      secs = Math.ceil(left / 1000);
      p = total ? Math.min(1, left / total) : 0;
      mode = secs <= 5 ? "warn" : "run";
      setText(label, secs === 0 ? T.time_up : q.buzzer && !q.answering ? T.buzz_now : T.seconds);
      var seen = lastSecond[q.id + ":" + q.deadline];
      if (seen !== undefined && secs !== seen && !s.contest.paused) {
        if (secs > 0 && secs <= 5) cue("tick");
        else if (secs === 0 && seen > 0) cue("timeup");
      }
      lastSecond[q.id + ":" + q.deadline] = secs;
    }
    setText(numEl, secs === null ? "" : String(secs));
    if (box.getAttribute("data-state") !== mode) box.setAttribute("data-state", mode);
    box.style.setProperty("--p", p.toFixed(3));
  }
  setInterval(tick, 200);

  // ---- the scoreboard, with rank changes animated (FLIP: first, last, invert, play)
  var rowEls = {};
  var rowTotals = {};
  function layoutRows(count) {
    var list = $("score-rows");
    var two = count > 10;
    var perCol = two ? Math.ceil(count / 2) : Math.max(count, 1);
    var u = Math.min(window.innerWidth / 100, window.innerHeight / 56.25);
    var gap = 0.6 * u;
    var height = list.clientHeight || window.innerHeight * 0.75;
    var row = Math.min(u * 6.2, (height - gap * (perCol - 1)) / perCol);
    list.classList.toggle("two", two);
    list.style.setProperty("--row-h", row.toFixed(1) + "px");
    list.style.setProperty("--per-col", String(perCol));
  }
  function rowFor(r) {
    var li = rowEls[r.entrant_id];
    if (!li) {
      li = el("li");
      li.setAttribute("data-entrant", String(r.entrant_id));
      li.appendChild(el("span", "rank"));
      var who = el("span", "entrant");
      who.appendChild(el("span", "name"));
      who.appendChild(el("span", "unit"));
      li.appendChild(who);
      li.appendChild(el("span", "change"));
      li.appendChild(el("span", "badge"));
      li.appendChild(el("span", "total"));
      rowEls[r.entrant_id] = li;
    }
    return li;
  }
  function fillRow(li, rank, r, total, withChange) {
    li.className = "r" + (rank <= 3 ? rank : "n");
    li.setAttribute("data-rank", String(rank));
    setText(li.querySelector(".rank"), String(rank));
    setText(li.querySelector(".name"), r.name);
    var unit = r.unit ? r.unit.split("/").pop() : "";
    setText(li.querySelector(".unit"), unit && unit !== r.name ? unit : "");
    var change = li.querySelector(".change");
    var moved = withChange && r.previous_rank ? r.previous_rank - r.rank : 0;
    change.className = "change" + (moved > 0 ? " up" : moved < 0 ? " down" : "");
    setText(change, moved > 0 ? "▲" + moved : moved < 0 ? "▼" + (-moved) : "");
    change.setAttribute("title", moved > 0 ? fmt(T.rank_up, {n: moved}) : moved < 0 ? fmt(T.rank_down, {n: -moved}) : "");
    var badge = li.querySelector(".badge");
    var show = withChange && r.last;
    setText(badge, show ? signed(r.last) : "");
    badge.className = "badge" + (show ? (r.last > 0 ? " plus" : " minus") + " pop" : "");
    countTo(li.querySelector(".total"), r.entrant_id, total);
  }
  function countTo(node, id, target) {
    var from = rowTotals[id];
    rowTotals[id] = target;
    if (from === undefined || from === target || reduced()) { setText(node, num(target)); return; }
    var start = performance.now(), dur = 1100;
    (function step(now) {
      var k = Math.min(1, (now - start) / dur);
      var v = from + (target - from) * (1 - Math.pow(1 - k, 3));
      node.textContent = num(k >= 1 ? target : Math.round(v * 10) / 10);
      if (k < 1 && rowTotals[id] === target) requestAnimationFrame(step);
    })(start);
  }
  function place(rows) {
    var list = $("score-rows");
    rows.forEach(function (li, i) {
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    while (list.children.length > rows.length) list.removeChild(list.lastChild);
  }
  var flipTimer = null;
  function renderScoreboard(s, entering) {
    var scores = s.scores;
    layoutRows(scores.length);
    if (flipTimer) { clearTimeout(flipTimer); flipTimer = null; }
    var animate = !reduced() && scores.some(function (r) { return r.last || (r.previous_rank && r.previous_rank !== r.rank); });
    if (entering && animate) {
      // first the standings before the latest scoring, then they move to where they are now
      var before = scores.slice().sort(function (a, b) {
        return (a.previous_rank || a.rank) - (b.previous_rank || b.rank) || scores.indexOf(a) - scores.indexOf(b);
      });
      rowTotals = {};
      place(before.map(function (r) {
        var li = rowFor(r);
        fillRow(li, r.previous_rank || r.rank, r, Math.round((r.total - r.last) * 1e4) / 1e4, false);
        return li;
      }));
      flipTimer = setTimeout(function () { flip(scores, true); }, 900);
    } else {
      flip(scores, !entering || animate);
    }
  }
  function flip(scores, withChange) {
    var list = $("score-rows");
    var first = {};
    Array.prototype.forEach.call(list.children, function (li) {
      first[li.getAttribute("data-entrant")] = li.getBoundingClientRect();
    });
    place(scores.map(function (r) {
      var li = rowFor(r);
      fillRow(li, r.rank, r, r.total, withChange);
      li.style.transition = "none";
      li.style.transform = "";
      return li;
    }));
    if (reduced()) return;
    Array.prototype.forEach.call(list.children, function (li) {
      var a = first[li.getAttribute("data-entrant")];
      if (!a) return;
      var b = li.getBoundingClientRect();
      var dx = a.left - b.left, dy = a.top - b.top;
      if (!dx && !dy) return;
      li.style.transform = "translate(" + dx + "px," + dy + "px)";
      li.classList.add("moving");
    });
    list.getBoundingClientRect();  // apply the inverted positions before playing
    Array.prototype.forEach.call(list.children, function (li) {
      if (!li.classList.contains("moving")) return;
      li.style.transition = "transform 1.2s cubic-bezier(.2,.8,.2,1)";
      li.style.transform = "";
      setTimeout(function () { li.classList.remove("moving"); }, 1300);
    });
  }

  // ---- the podium: second, first, third (entrants with equal totals share a step)
  function renderPodium(s, entering) {
    var box = $("podium-steps");
    var key = s.scores.filter(function (r) { return r.rank <= 3; }).map(function (r) { return r.rank + r.name + r.total; }).join("|");
    if (!entering && box.getAttribute("data-items") === key) return;
    box.setAttribute("data-items", key);
    box.textContent = "";
    [2, 1, 3].forEach(function (rank) {
      var who = s.scores.filter(function (r) { return r.rank === rank; });
      if (!who.length) return;
      var step = el("div", "step step-" + rank);
      step.setAttribute("data-rank", String(rank));
      var names = el("div", "names");
      who.forEach(function (r) {
        var line = el("div", "winner");
        line.setAttribute("data-entrant", String(r.entrant_id));
        line.appendChild(el("span", "name", r.name));
        line.appendChild(el("span", "points", num(r.total)));
        names.appendChild(line);
      });
      step.appendChild(names);
      step.appendChild(el("div", "block", String(rank)));
      box.appendChild(step);
    });
  }

  // ------------------------------------------------------------ start
  apply(D.state);
  probeSoon(3);
  var probeFailed = false;
  setInterval(function () {
    probe().then(function () {
      if (probeFailed || !source) { probeFailed = false; connect(); }  // back online: a fresh stream, the state at once
    }, function () {
      probeFailed = true;
      online(false);
    });
  }, 20000);
  connect();
})();
