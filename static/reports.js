// Unit report charts (ECharts, vendored in static/vendor/echarts) from the page's JSON block
// #report-data, and the organiser field carried into the download and poster links.
(function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source) return;
  var data = JSON.parse(source.textContent);
  var text = data.text;
  var charts = [];
  var FONT = 14;
  var LINE = 18;  // line height of a unit name
  var measure = document.createElement("canvas").getContext("2d");

  function empty(element) {
    var p = document.createElement("p");
    element.textContent = "";
    p.className = "muted";
    p.textContent = text.empty;
    element.style.minHeight = "0";
    element.appendChild(p);
  }

  function start(element, option, height) {
    element.style.height = height + "px";
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
    return chart;
  }

  function nameWidth(element) {
    // names wrap inside 40 % of the chart (at least 120 px) instead of being cut off
    return Math.max(120, Math.round(element.clientWidth * 0.4));
  }

  function rowHeight(names, width) {
    // every bar gets room for the longest name wrapped to `width` (one line on a desktop)
    measure.font = FONT + "px sans-serif";
    var lines = names.reduce(function (most, name) {
      return Math.max(most, Math.ceil((measure.measureText(name).width + 4) / width));
    }, 1);
    return Math.max(34, lines * LINE + 14);
  }

  function unitBars(id, key, format, maximum) {
    var element = document.getElementById(id);
    if (!element) return;
    var units = data.units.filter(function (u) { return u[key] !== null; });
    units.sort(function (a, b) { return b[key] - a[key] || a.name.localeCompare(b.name, "zh"); });
    if (!units.length) { empty(element); return; }
    var width = nameWidth(element);
    start(element, {
      animation: false,
      grid: { left: 8, right: 64, top: 8, bottom: 28, containLabel: true },
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" }, textStyle: { fontSize: FONT },
        formatter: function (items) {
          var u = units[items[0].dataIndex];
          var html = window.echarts.format.encodeHTML;  // unit names are typed by organisers
          return html(u.path) + "<br>" + html(items[0].seriesName) + ": " + format(u[key]) +
            (u.rank === null ? "" : "<br>" + html(text.rank) + ": " + u.rank);
        }
      },
      xAxis: {
        type: "value", min: 0,
        max: function (v) { return Math.max(maximum, v.max); },
        axisLabel: { fontSize: FONT - 1, hideOverlap: true, formatter: function (v) { return format(v); } }
      },
      yAxis: {
        type: "category", inverse: true, data: units.map(function (u) { return u.name; }),
        axisTick: { show: false },
        axisLabel: { fontSize: FONT, color: "#222", width: width, overflow: "break", interval: 0, lineHeight: LINE }
      },
      series: [{
        type: "bar", name: key === "average" ? text.average : text.participation,
        data: units.map(function (u) { return u[key]; }),
        barMaxWidth: 22, itemStyle: { color: key === "average" ? "#c0392b" : "#1e7e34" },
        label: { show: true, position: "right", fontSize: FONT - 1, color: "#222",
                 formatter: function (p) { return format(p.value); } }
      }]
    }, units.length * rowHeight(units.map(function (u) { return u.name; }), width) + 48);
  }

  function histogram() {
    var element = document.getElementById("chart-histogram");
    if (!element) return;
    var h = data.histogram;
    var total = h.counts.reduce(function (a, b) { return a + b; }, 0);
    if (!h.labels.length || !total) { empty(element); return; }
    // turn the bin labels only when they would not fit side by side (phones, 100-point papers)
    var longest = Math.max.apply(null, h.labels.map(function (l) { return l.length; }));
    var slanted = longest * (FONT - 5) + 10 > (element.clientWidth - 60) / h.labels.length;
    start(element, {
      animation: false,
      grid: { left: 8, right: 16, top: 28, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, textStyle: { fontSize: FONT } },
      xAxis: {
        type: "category", data: h.labels, name: text.score, nameLocation: "middle", nameGap: 44,
        nameTextStyle: { fontSize: FONT },
        axisTick: { alignWithLabel: true },
        axisLabel: { fontSize: FONT - 1, color: "#222", interval: 0, rotate: slanted ? 40 : 0 }
      },
      yAxis: { type: "value", minInterval: 1, name: text.people, nameTextStyle: { fontSize: FONT },
               axisLabel: { fontSize: FONT - 1 } },
      series: [{
        type: "bar", name: text.people, data: h.counts, barCategoryGap: "20%", itemStyle: { color: "#2f6fb0" },
        label: { show: true, position: "top", fontSize: FONT - 1, color: "#222" }
      }]
    }, 320);
  }

  function number(v) { return (Math.round(v * 100) / 100).toString(); }
  function percent(v) { return (Math.round(v * 10) / 10).toString() + "%"; }

  function draw() {
    if (!window.echarts) return;
    unitBars("chart-average", "average", number, data.full_marks || 0);
    unitBars("chart-participation", "participation", percent, 100);
    histogram();
  }

  // Charts follow the window, and the printed page (A4 portrait is about 680 px wide).
  var pending = null;
  window.addEventListener("resize", function () {  // redraw: name widths and bin labels follow the width
    if (printing) return;
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) { c.dispose(); });
      charts = [];
      draw();
    }, 150);
  });
  var printing = false;
  function forPrint() { printing = true; charts.forEach(function (c) { c.resize({ width: 680 }); }); }
  function forScreen() { printing = false; charts.forEach(function (c) { c.resize(); }); }
  window.addEventListener("beforeprint", forPrint);
  window.addEventListener("afterprint", forScreen);
  if (window.matchMedia) {  // browsers that announce printing only through the media query
    var print = window.matchMedia("print");
    var follow = function (m) { (m.matches ? forPrint : forScreen)(); };
    if (print.addEventListener) print.addEventListener("change", follow);
    else if (print.addListener) print.addListener(follow);
  }

  // The organiser typed on the page goes into every download and poster link at once.
  var organiser = document.getElementById("organiser");
  if (organiser) {
    organiser.addEventListener("input", function () {
      document.querySelectorAll(".report-links a").forEach(function (a) {
        var url = new URL(a.href, window.location.href);
        if (!url.searchParams.has("organiser")) return;
        url.searchParams.set("organiser", organiser.value);
        a.href = url.pathname + url.search;
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
