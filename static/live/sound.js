// Sound cues of the live contest's big screen, synthesised with WebAudio (no audio files):
// countdown ticks, time up, start, buzz, right, wrong, reveal and the podium fanfare.
// Browsers start audio only after a click or a key press on the page (autoplay rules), so the
// screen asks for one click (static/live/screen.js); a kiosk browser started with
// --autoplay-policy=no-user-gesture-required plays at once. Plain ES5; no build step.
(function () {
  "use strict";
  var AC = window.AudioContext || window.webkitAudioContext;
  var ctx = null;
  var master = null;

  function context() {
    if (!AC) return null;
    if (!ctx) {
      try {
        ctx = new AC();
        master = ctx.createGain();
        master.gain.value = 0.7;
        master.connect(ctx.destination);
      } catch (e) {
        ctx = null;
      }
    }
    return ctx;
  }

  // one note: frequency (Hz), start (s, audio clock), duration (s), waveform, volume, optional slide
  function note(freq, at, dur, type, vol, slideTo) {
    var o = ctx.createOscillator();
    var g = ctx.createGain();
    o.type = type || "sine";
    o.frequency.setValueAtTime(freq, at);
    if (slideTo) o.frequency.exponentialRampToValueAtTime(slideTo, at + dur);
    g.gain.setValueAtTime(0.0001, at);
    g.gain.exponentialRampToValueAtTime(vol || 0.4, at + 0.012);
    g.gain.exponentialRampToValueAtTime(0.0001, at + dur);
    o.connect(g);
    g.connect(master);
    o.start(at);
    o.stop(at + dur + 0.05);
  }

  var C5 = 523.25, E5 = 659.25, G5 = 783.99, C6 = 1046.5, G4 = 392.0, A5 = 880.0;
  var CUES = {
    tick: function (t) { note(1000, t, 0.09, "square", 0.22); },
    timeup: function (t) { note(440, t, 0.7, "sawtooth", 0.3); note(220, t, 0.7, "square", 0.18); },
    start: function (t) { note(C5, t, 0.12, "triangle", 0.4); note(G5, t + 0.12, 0.3, "triangle", 0.4); },
    buzz: function (t) { note(A5, t, 0.38, "square", 0.3, 620); note(1320, t, 0.18, "sine", 0.2); },
    right: function (t) {
      [C5, E5, G5, C6].forEach(function (f, i) { note(f, t + i * 0.09, 0.4, "triangle", 0.4); });
    },
    wrong: function (t) { note(196, t, 0.28, "sawtooth", 0.32); note(147, t + 0.3, 0.55, "sawtooth", 0.32); },
    reveal: function (t) { note(E5, t, 0.3, "sine", 0.35); note(987.77, t + 0.12, 0.6, "sine", 0.3); },
    fanfare: function (t) {
      var tune = [[G4, 0, 0.16], [C5, 0.16, 0.16], [E5, 0.32, 0.16], [G5, 0.48, 0.42], [E5, 0.92, 0.16], [G5, 1.08, 0.9]];
      tune.forEach(function (n) { note(n[0], t + n[1], n[2] + 0.05, "triangle", 0.42); note(n[0] / 2, t + n[1], n[2], "sine", 0.2); });
      [C5, E5, G5, C6].forEach(function (f) { note(f, t + 1.08, 1.4, "sine", 0.16); });
    }
  };

  window.LiveSound = {
    cues: Object.keys(CUES),
    // plays a cue now; false when audio is not available or not allowed yet
    play: function (name) {
      var c = context();
      if (!c || c.state !== "running" || !CUES[name]) return false;
      CUES[name](c.currentTime + 0.02);
      return true;
    },
    // call from a click or key press: browsers allow audio from then on
    unlock: function () {
      var c = context();
      if (c && c.state !== "running" && c.resume) {
        try { return c.resume(); } catch (e) { /* ignore */ }
      }
      return null;
    },
    locked: function () {
      var c = context();
      return !c || c.state !== "running";
    }
  };
})();
