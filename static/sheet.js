// The answer sheet (templates/play/sheet.html): one question per screen, answers saved as they
// are chosen, a countdown from the server's deadline, a review screen, then submission.
//
// Answers are never lost to a dropped connection: every change is first written to
// localStorage ("unsent" answers, keyed by attempt), then PUT to the API; an answer leaves
// localStorage only once the server has acknowledged that exact value. Unsent answers are
// resent with back-off, when the connection returns, and after a reload.
// Plain ES5 + fetch/Promise so it runs in WeChat's built-in browser; no build step.
(function () {
  "use strict";
  var dataEl = document.getElementById("sheet-data");
  if (!dataEl) return;
  var D = JSON.parse(dataEl.textContent);
  var T = D.i18n;
  var P = D.payload;
  var questions = P.questions || [];
  var attemptId = P.attempt_id;
  var token = P.token;
  var api = D.api;
  var clockUrl = D.clock;
  var practice = !!D.practice;
  var storeKey = "quiz-sheet:" + attemptId;
  var JUDGE = ["正确", "错误"]; // canonical 判断 responses (data, not UI text)
  var DEBOUNCE_MS = 600;

  // ------------------------------------------------------------ clock
  function parseTime(text) {
    if (!text) return null;
    // ISO 8601 from Python: keep at most milliseconds (older engines reject microseconds)
    var t = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
    return isNaN(t) ? null : t;
  }
  var serverAtLoad = parseTime(D.server_now);
  var offset = serverAtLoad === null ? 0 : serverAtLoad - Date.now(); // server clock − this clock
  function serverNow() { return Date.now() + offset; }
  var deadline = practice ? null : parseTime(P.deadline);

  // ------------------------------------------------------------ helpers
  function $(id) { return document.getElementById(id); }
  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
  function delay(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
  function keys(obj) { return Object.keys(obj); }

  var byId = {};
  questions.forEach(function (q) { byId[String(q.id)] = q; });

  function isAnswered(q, response) {
    if (response === null || response === undefined) return false;
    if (q.widget === "blanks") {
      return Array.isArray(response) && response.some(function (s) { return String(s).trim() !== ""; });
    }
    return String(response) !== "";
  }
  function wire(q, response) {
    // what the API gets: a cleared 填空 (all inputs empty) is sent as [] so the answer is removed
    if (q.widget === "blanks" && !isAnswered(q, response)) return [];
    return response;
  }

  // ------------------------------------------------------------ local storage
  function loadStore() {
    try {
      var raw = window.localStorage.getItem(storeKey);
      var data = raw ? JSON.parse(raw) : null;
      if (data && typeof data === "object") return data;
    } catch (e) { /* private mode or quota: keep going without it */ }
    return {};
  }
  var stored = loadStore();
  var unsent = (stored.unsent && typeof stored.unsent === "object") ? stored.unsent : {};
  var current = typeof stored.pos === "number" ? stored.pos : 0;
  function persist() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify({unsent: unsent, pos: current, saved_at: Date.now()}));
    } catch (e) { /* ignore */ }
  }
  function forget() {
    try { window.localStorage.removeItem(storeKey); } catch (e) { /* ignore */ }
  }

  // ------------------------------------------------------------ state
  var answers = {};     // qid → response, as shown on screen
  var state = {};       // qid → "saved" | "saving" | "pending" | "failed" | "rejected"
  var rejected = {};    // qid → server message for a refused answer
  var feedback = {};    // qid → {correct, answer, explanation} (practice)
  var inflight = {};    // qid → Promise of the request under way
  var timers = {};      // qid → debounce timer
  var finished = false; // submitted or time up: stop sending
  var leaving = false;  // the page is being unloaded (not a tab switch)

  keys(P.answers || {}).forEach(function (qid) {
    if (byId[qid]) { answers[qid] = P.answers[qid]; state[qid] = "saved"; }
  });
  keys(unsent).forEach(function (qid) {
    if (!byId[qid]) { delete unsent[qid]; return; }
    answers[qid] = unsent[qid];  // chosen after the server's copy: newer
    state[qid] = "pending";
  });
  if (current < 0 || current >= questions.length) current = 0;

  // ------------------------------------------------------------ network
  function request(method, url, body, opts) {
    opts = opts || {};
    var controller = (typeof AbortController !== "undefined" && !opts.keepalive) ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, opts.timeout || 15000) : null;
    var init = {
      method: method,
      credentials: "same-origin",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body)
    };
    if (controller) init.signal = controller.signal;
    if (opts.keepalive) init.keepalive = true;
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

  var retryDelay = 1000;
  var retryTimer = null;
  function scheduleRetry() {
    if (retryTimer || finished) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 20000);
  }
  function setOnline(online) { $("net").hidden = online; }

  function send(qid) {
    if (timers[qid]) { clearTimeout(timers[qid]); timers[qid] = null; }
    if (finished || !(qid in unsent)) return Promise.resolve();
    if (inflight[qid]) {
      // one request per question at a time, so an older value never overtakes a newer one
      return inflight[qid].then(function () { return send(qid); });
    }
    var value = unsent[qid];
    var q = byId[qid];
    state[qid] = "saving";
    refreshStatus(qid);
    var p = request("PUT", api + "/answers/" + qid, {response: wire(q, value)}).then(function (res) {
      inflight[qid] = null;
      if (res.ok) {
        setOnline(true);
        retryDelay = 1000;
        if (same(unsent[qid], value)) { delete unsent[qid]; persist(); }
        delete rejected[qid];
        state[qid] = (qid in unsent) ? "pending" : "saved";
        if (practice && res.body && "correct" in res.body) {
          feedback[qid] = isAnswered(q, value) ? res.body : null;
        }
        refreshStatus(qid);
        if (qid === String(questions[current].id)) renderFeedback();
      } else if (res.status === 409) {
        ended();  // time is up or the organiser closed the quiz: ask the clock why
      } else if (res.status === 429 || res.status >= 500 || res.status === 408) {
        state[qid] = "failed";
        refreshStatus(qid);
        scheduleRetry();
      } else {
        // refused for good (malformed, unknown question, wrong token): say so, stop resending
        if (same(unsent[qid], value)) { delete unsent[qid]; persist(); }
        state[qid] = "rejected";
        rejected[qid] = res.body.error || String(res.status);
        refreshStatus(qid);
      }
    }, function () {
      inflight[qid] = null;
      setOnline(false);
      state[qid] = "failed";
      refreshStatus(qid);
      scheduleRetry();
    });
    inflight[qid] = p;
    return p;
  }

  function flush() {
    return Promise.all(keys(unsent).map(function (qid) { return send(qid); }));
  }
  function settle(ms) {
    // send what is unsent, waiting at most ms
    return Promise.race([flush(), delay(ms)]);
  }

  function setAnswer(qid, response, debounce) {
    if (finished) return;
    answers[qid] = response;
    unsent[qid] = response;
    persist();
    delete rejected[qid];
    if (practice) feedback[qid] = null;
    if (!inflight[qid]) state[qid] = "pending";
    refreshStatus(qid);
    if (timers[qid]) clearTimeout(timers[qid]);
    if (debounce) {
      timers[qid] = setTimeout(function () { timers[qid] = null; send(qid); }, debounce);
    } else {
      send(qid);
    }
    if (practice) renderFeedback();
  }

  // ------------------------------------------------------------ ending
  function showOverlay(text, reason) {
    $("overlay-text").textContent = text;
    $("overlay").setAttribute("data-reason", reason || "");
    $("overlay").hidden = false;
  }
  function goToResult() {
    finished = true;
    forget();
    window.location.replace(D.result_url);
  }
  function closed(message, reason) {
    // the sheet is no longer open: say why, submit it (a sheet past its deadline is graded at the
    // deadline by its submission; reads never grade, and submitting twice changes nothing), then
    // show the result page
    if (finished) return;
    finished = true;
    showOverlay(message || T.closed, reason);
    var show = function () { setTimeout(goToResult, 2500); };
    request("POST", api + "/submit", {}).then(show, show);
  }
  function why(body) {
    // The clock's answer → [message, reason]. A sheet that ends while the deadline this page knew
    // is still well ahead was cut short by the organiser (closed early); otherwise time is up.
    var reason = body && body.reason;
    if (reason === "submitted") return [T.closed, "submitted"];
    if (deadline === null || deadline - serverNow() > 2000) return [T.closed_early, "closed_early"];
    return [T.time_up_closed, "time_up"];
  }
  function ended() {
    // a save was refused with 409: find out why (the clock), then say so
    if (finished) return;
    request("GET", clockUrl, undefined, {timeout: 4000}).then(function (res) {
      var reason = why(res.ok ? res.body : null);
      closed(reason[0], reason[1]);
    }, function () {
      var reason = why(null);
      closed(reason[0], reason[1]);
    });
  }

  var submitting = false;
  function submit(auto) {
    if (submitting) return Promise.resolve();
    submitting = true;
    var before = auto ? settle(2500) : Promise.resolve();
    return before.then(function () {
      finished = true;
      var attempt = function (n) {
        return request("POST", api + "/submit", {}).then(function (res) {
          if (res.ok || res.status === 409) return goToResult();
          throw new Error(res.body.error || String(res.status));
        }).catch(function (err) {
          if (auto) {
            // the server grades an overdue sheet at its deadline anyway: show the result page
            if (n < 2) return delay(1000).then(function () { return attempt(n + 1); });
            return goToResult();
          }
          finished = false;
          submitting = false;
          throw err;
        });
      };
      return attempt(0);
    });
  }

  var forceSubmit = false;
  function manualSubmit() {
    var status = $("review-status");
    var button = $("submit-btn");
    button.disabled = true;
    status.textContent = T.submitting;
    settle(5000).then(function () {
      var left = keys(unsent).length;
      if (left && !forceSubmit) {
        forceSubmit = true;
        status.textContent = fmt(T.unsent, {count: left});
        button.disabled = false;
        return;
      }
      return submit(false).catch(function (err) {
        var message = (err && err.name === "AbortError") || (err instanceof TypeError) ? T.no_connection : err.message;
        status.textContent = fmt(T.submit_failed, {error: message});
        button.disabled = false;
      });
    });
  }

  // ------------------------------------------------------------ countdown
  var timerEl = $("timer");
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }
  // The deadline can move (the organiser extends the time or closes early): ask the server's
  // clock (a cheap read-only endpoint) every few seconds, before submitting at the deadline we
  // know, and when the page comes back to the front.
  var checking = false;
  function refreshState() {
    if (checking || finished) return Promise.resolve(null);
    checking = true;
    return request("GET", clockUrl, undefined, {timeout: 5000}).then(function (res) {
      checking = false;
      if (!res.ok) return null;
      var body = res.body;
      var at = parseTime(body.server_time);
      if (at !== null) offset = at - Date.now();
      if (body.status && body.status !== "open") {
        var reason = why(body);
        closed(reason[0], reason[1]);
        return "closed";
      }
      if (!practice && "deadline" in body) deadline = parseTime(body.deadline);
      return "open";
    }, function () { checking = false; return null; });
  }
  var POLL_MS = 4000;
  function poll() {
    // every 3–5 s (jittered, so a room of phones does not ask at the same moment)
    setTimeout(function () {
      if (finished || submitting) return;
      if (document.visibilityState === "hidden") { poll(); return; }
      refreshState().then(function (outcome) { if (outcome !== "closed") poll(); });
    }, POLL_MS * (0.75 + Math.random() * 0.5));
  }
  function tick() {
    if (deadline === null || submitting || finished) return;
    var left = deadline - serverNow();
    timerEl.textContent = clock(left);
    timerEl.className = "timer" + (left <= 60000 ? " warn" : "");
    if (left > 0 || checking) return;
    refreshState().then(function (outcome) {
      if (outcome === "closed" || submitting || finished) return;
      if (outcome === null || deadline === null || deadline - serverNow() <= 0) {
        // confirmed (or the server cannot be asked): submit what was saved
        showOverlay(T.time_up);
        submit(true);
      } else {
        tick();  // the time was extended
      }
    });
  }
  if (deadline !== null) {
    timerEl.hidden = false;
    tick();
    setInterval(tick, 250);
  }

  // ------------------------------------------------------------ rendering
  var card = $("q-card");

  function statusText(qid) {
    var q = byId[qid];
    switch (state[qid]) {
      case "saving": return T.saving;
      case "pending": return T.pending;
      case "failed": return T.failed;
      case "rejected": return fmt(T.rejected, {error: rejected[qid]});
      case "saved": return isAnswered(q, answers[qid]) ? "✓ " + T.saved : "";
      default: return "";
    }
  }
  function refreshStatus(qid) {
    var node = card.querySelector(".save-state");
    if (node && node.getAttribute("data-qid") === qid) {
      node.textContent = statusText(qid);
      node.className = "save-state " + (state[qid] || "");
      node.setAttribute("data-state", state[qid] || "");
    }
    renderProgress();
  }

  function renderProgress() {
    var answered = questions.filter(function (q) { return isAnswered(q, answers[String(q.id)]); }).length;
    var total = questions.length;
    $("progress-fill").style.width = (total ? (100 * answered / total) : 0) + "%";
    var bar = $("progress");
    bar.setAttribute("aria-valuenow", answered);
    bar.setAttribute("aria-valuetext", fmt(T.answered, {answered: answered, total: total}));
    bar.title = fmt(T.answered, {answered: answered, total: total});
    renderGrid($("jump-grid"));
    if (!$("review").hidden) renderReview();
  }

  function renderGrid(grid) {
    grid.textContent = "";
    questions.forEach(function (q, i) {
      var qid = String(q.id);
      var b = el("button", "", String(i + 1));
      b.type = "button";
      b.setAttribute("data-index", i);
      var cls = [];
      if (isAnswered(q, answers[qid])) cls.push("answered");
      if (state[qid] === "failed" || state[qid] === "rejected") cls.push("failed");
      if (i === current && $("review").hidden) { cls.push("current"); b.setAttribute("aria-current", "true"); }
      b.className = cls.join(" ");
      grid.appendChild(b);
    });
  }

  function optionRow(q, kind, name, value, key, text, checked) {
    var label = el("label", "opt " + kind + (checked ? " checked" : ""));
    var input = el("input");
    input.type = kind === "many" ? "checkbox" : "radio";
    input.name = name;
    input.value = value;
    input.checked = checked;
    label.appendChild(input);
    label.appendChild(el("span", "opt-key", key));
    label.appendChild(el("span", "opt-text", text));
    return label;
  }

  function renderQuestion() {
    var q = questions[current];
    if (!q) return;
    var qid = String(q.id);
    var response = answers[qid];
    card.textContent = "";
    card.setAttribute("data-qid", qid);
    card.setAttribute("data-type", q.type);
    card.setAttribute("data-widget", q.widget);

    var head = el("div", "q-head");
    head.appendChild(el("span", "q-number", String(current + 1) + "."));
    head.appendChild(el("span", "q-type", q.label || q.type));
    head.appendChild(el("span", "q-points", fmt(T.points, {points: q.points})));
    var st = el("span", "save-state " + (state[qid] || ""), statusText(qid));
    st.setAttribute("data-qid", qid);
    st.setAttribute("data-state", state[qid] || "");
    st.setAttribute("role", "status");
    head.appendChild(st);
    card.appendChild(head);
    card.appendChild(el("div", "q-stem", q.stem));
    if (q.image) {  // 看图题: the picture, fitted to the screen (play.css .q-picture)
      var figure = el("figure", "q-picture");
      var img = el("img");
      img.src = q.image;
      img.alt = T.picture;
      figure.appendChild(img);
      card.appendChild(figure);
    }
    var upcoming = questions[current + 1];
    if (upcoming && upcoming.image) { (new Image()).src = upcoming.image; }  // ready before "Next"

    var name = "q" + qid;
    // how to show a question is its type's `widget` (quiz/questions): one, many, truefalse, blanks
    if (q.widget === "one" || q.widget === "many") {
      if (q.widget === "many") card.appendChild(el("p", "q-note", T.multi_hint));
      var opts = el("div", "opts");
      opts.setAttribute("role", q.widget === "many" ? "group" : "radiogroup");
      var chosen = String(response || "");
      q.options.forEach(function (o) {
        opts.appendChild(optionRow(q, q.widget, name, o.key, o.key, o.text, chosen.indexOf(o.key) >= 0));
      });
      card.appendChild(opts);
    } else if (q.widget === "truefalse") {
      var jopts = el("div", "opts");
      jopts.setAttribute("role", "radiogroup");
      jopts.appendChild(optionRow(q, "truefalse", name, JUDGE[0], "✓", T["true"], response === JUDGE[0]));
      jopts.appendChild(optionRow(q, "truefalse", name, JUDGE[1], "✗", T["false"], response === JUDGE[1]));
      card.appendChild(jopts);
    } else {  // "blanks": one text box per blank
      var blanks = el("div", "blanks");
      var n = Math.max(1, q.blanks || 1);
      var values = Array.isArray(response) ? response : [];
      for (var i = 0; i < n; i++) {
        var lab = el("label");
        lab.appendChild(el("span", "", fmt(T.blank_label, {n: i + 1})));
        var input = el("input");
        input.type = "text";
        input.autocomplete = "off";
        input.setAttribute("autocapitalize", "off");
        input.setAttribute("data-blank", i);
        input.value = values[i] !== undefined && values[i] !== null ? values[i] : "";
        lab.appendChild(input);
        blanks.appendChild(lab);
      }
      card.appendChild(blanks);
    }
    card.appendChild(el("div", "feedback-slot"));
    renderFeedback();

    $("position").textContent = fmt(T.position, {n: current + 1, total: questions.length});
    $("prev-btn").disabled = current === 0;
    $("next-btn").textContent = current === questions.length - 1 ? T.review : T.next + " ›";
    persist();
    renderProgress();
  }

  function answerText(q, answer) {
    if (q.widget === "blanks" && Array.isArray(answer)) {
      return answer.map(function (b) { return Array.isArray(b) ? b.join(" / ") : b; }).join(" | ");
    }
    if (q.widget === "truefalse") return answer === JUDGE[0] ? T["true"] : answer === JUDGE[1] ? T["false"] : answer;
    return answer;
  }

  function renderFeedback() {
    var slot = card.querySelector(".feedback-slot");
    if (!slot) return;
    slot.textContent = "";
    var q = questions[current];
    var fb = feedback[String(q.id)];
    if (!practice || !fb) return;
    var box = el("div", "feedback " + (fb.correct ? "right" : "wrong"));
    box.setAttribute("data-correct", fb.correct ? "true" : "false");
    box.setAttribute("role", "status");
    box.appendChild(el("p", "verdict", fb.correct ? T.right : T.wrong));
    box.appendChild(el("p", "answer", fmt(T.answer, {answer: answerText(q, fb.answer)})));
    if (fb.explanation) box.appendChild(el("p", "explanation", fmt(T.explanation, {text: fb.explanation})));
    slot.appendChild(box);
  }

  function renderReview() {
    var missing = [];
    questions.forEach(function (q, i) { if (!isAnswered(q, answers[String(q.id)])) missing.push(i); });
    var total = questions.length;
    $("review-count").textContent = fmt(T.answered, {answered: total - missing.length, total: total});
    var box = $("review-missing");
    box.textContent = "";
    missing.forEach(function (i) {
      var b = el("button", "", String(i + 1));
      b.type = "button";
      b.setAttribute("data-index", i);
      box.appendChild(b);
    });
    $("review-missing-block").hidden = !missing.length;
    $("review-all").hidden = !!missing.length;
    renderGrid($("review-grid"));
  }

  function show(screen) {
    var review = screen === "review";
    $("question-screen").hidden = review;
    $("review").hidden = !review;
    $("jump").hidden = true;
    $("list-toggle").setAttribute("aria-expanded", "false");
    $("sheet-nav").hidden = review;
    if (review) {
      forceSubmit = false;
      $("review-status").textContent = "";
      renderReview();
      flush();
    }
    renderProgress();
    window.scrollTo(0, 0);
  }

  function go(index) {
    current = Math.max(0, Math.min(questions.length - 1, index));
    show("question");
    renderQuestion();
  }

  // ------------------------------------------------------------ events
  card.addEventListener("change", function (e) {
    var input = e.target;
    var q = questions[current];
    var qid = String(q.id);
    if (input.type === "radio") {
      setAnswer(qid, input.value);
    } else if (input.type === "checkbox") {
      var letters = [];
      card.querySelectorAll("input[type=checkbox]").forEach(function (c) { if (c.checked) letters.push(c.value); });
      setAnswer(qid, letters.sort().join(""));
    } else {
      return;
    }
    card.querySelectorAll(".opt").forEach(function (label) {
      label.classList.toggle("checked", label.querySelector("input").checked);
    });
  });
  function blankValues() {
    var out = [];
    card.querySelectorAll("input[data-blank]").forEach(function (i) { out.push(i.value); });
    return out;
  }
  card.addEventListener("input", function (e) {
    if (!e.target.hasAttribute("data-blank") || e.isComposing) return;  // wait for the IME to finish
    setAnswer(String(questions[current].id), blankValues(), DEBOUNCE_MS);
  });
  card.addEventListener("compositionend", function (e) {
    if (!e.target.hasAttribute("data-blank")) return;
    setAnswer(String(questions[current].id), blankValues(), DEBOUNCE_MS);
  });
  card.addEventListener("focusout", function (e) {
    if (!e.target.hasAttribute || !e.target.hasAttribute("data-blank")) return;
    var qid = card.getAttribute("data-qid");
    if (timers[qid]) send(qid);
  });
  card.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.hasAttribute("data-blank")) {
      e.preventDefault();
      var inputs = card.querySelectorAll("input[data-blank]");
      var i = Number(e.target.getAttribute("data-blank"));
      if (i + 1 < inputs.length) inputs[i + 1].focus(); else e.target.blur();
    }
  });

  function leaveQuestion() {
    // send a 填空 being typed at once rather than after the debounce
    var qid = card.getAttribute("data-qid");
    if (qid && timers[qid]) send(qid);
  }
  $("prev-btn").addEventListener("click", function () { leaveQuestion(); go(current - 1); });
  $("next-btn").addEventListener("click", function () {
    leaveQuestion();
    if (current === questions.length - 1) show("review"); else go(current + 1);
  });
  $("list-toggle").addEventListener("click", function () {
    var panel = $("jump");
    panel.hidden = !panel.hidden;
    this.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
    if (!panel.hidden) { renderGrid($("jump-grid")); panel.scrollIntoView({block: "nearest"}); }
  });
  function gridClick(e) {
    var b = e.target.closest("button[data-index]");
    if (!b) return;
    leaveQuestion();
    go(Number(b.getAttribute("data-index")));
  }
  $("jump-grid").addEventListener("click", gridClick);
  $("review-grid").addEventListener("click", gridClick);
  $("review-missing").addEventListener("click", gridClick);
  $("jump-review").addEventListener("click", function () { leaveQuestion(); show("review"); });
  $("back-btn").addEventListener("click", function () { go(current); });
  $("submit-btn").addEventListener("click", manualSubmit);

  window.addEventListener("online", function () { setOnline(true); retryDelay = 1000; flush(); });
  window.addEventListener("offline", function () { setOnline(false); });
  window.addEventListener("pagehide", function () { leaving = true; persist(); });
  window.addEventListener("beforeunload", function () { leaving = true; persist(); });
  window.addEventListener("pageshow", function () { leaving = false; });

  // Tab/app switches are counted (shown to the organiser; they never change the score).
  // sendBeacon cannot carry the Authorization header, so this is a keepalive fetch.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      persist();
      if (leaving || finished) return;
      try {
        request("POST", api + "/events", {type: "hidden"}, {keepalive: true}).catch(function () {});
      } catch (e) { /* fire and forget */ }
    } else {
      leaving = false;
      flush();
      if (deadline !== null) refreshState().then(tick);
    }
  });

  // ------------------------------------------------------------ start
  if (!questions.length) return;
  renderQuestion();
  flush();  // answers left unsent by an earlier visit
  poll();
})();
