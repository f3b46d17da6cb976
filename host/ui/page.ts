// The dashboard page: plain HTML, CSS and a script, no framework; uPlot (served by server.ts from
// node_modules) draws the time series. The script opens /events (frame.ts says what comes) and
// draws: the SAT map (one element per RAM sector, the only elements with data-sector), the usage
// gauge with the spill threshold and target, the series, the tier state strip, the uplink bands,
// cleanup, the log, and the controls of a live run. The script is kept free of backticks and
// template placeholders so that it can live in this string.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>imx-memsim dashboard</title>
<link rel="stylesheet" href="/uplot.css">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>imx-memsim <span id="board"></span></h1>
  <div id="title"></div>
  <div id="clock">connecting…</div>
  <div id="controls" hidden>
    <button id="pause" type="button">Pause</button>
    <button id="resume" type="button">Resume</button>
    <label>speed <input id="speed" type="text" size="6" value=""></label>
    <button id="speed-set" type="button">Set</button>
  </div>
</header>
<main>
  <section id="sat">
    <h2>SAT map <small id="sat-text"></small></h2>
    <div id="gauge"><div id="gauge-used"></div><div id="gauge-target" class="mark"></div><div id="gauge-threshold" class="mark"></div></div>
    <div id="gauge-labels"></div>
    <div id="legend"></div>
    <div id="map"></div>
  </section>
  <section id="state">
    <h2>Tier state: <span id="state-now"></span> <small id="phase"></small></h2>
    <div id="strip"></div>
    <h2>Uplink <small id="link-now"></small></h2>
    <div id="chart-link" class="chart small"></div>
    <h2>Cleanup</h2>
    <div id="cleanup"></div>
    <h2>Latest log lines</h2>
    <pre id="log"></pre>
  </section>
  <section id="charts">
    <div class="chart-box"><h2>RAM usage (%)</h2><div id="chart-ram" class="chart"></div></div>
    <div class="chart-box"><h2>Disk: bytes and files against the quota</h2><div id="chart-disk" class="chart"></div></div>
    <div class="chart-box"><h2>Backlog per stream (records)</h2><div id="chart-backlog" class="chart"></div></div>
    <div class="chart-box"><h2>Records written / uploaded / discarded</h2><div id="chart-records" class="chart"></div></div>
    <div class="chart-box"><h2>Upload lag (s)</h2><div id="chart-lag" class="chart"></div></div>
  </section>
</main>
<script src="/uplot.js"></script>
<script src="/app.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
body { font: 13px/1.35 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .5em 1em; background: #263238; color: #eee; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0; }
#title { color: #9ab; font-size: 12px; }
main { display: grid; grid-template-columns: minmax(420px, 1fr) 340px; grid-template-areas: "sat state" "charts charts"; gap: 1em; padding: 1em; }
#sat { grid-area: sat; } #state { grid-area: state; } #charts { grid-area: charts; display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; }
h2 { font-size: 13px; margin: .6em 0 .3em; }
#map { display: grid; grid-template-columns: repeat(64, 9px); gap: 1px; }
#map div { width: 9px; height: 9px; background: #e4e4e4; }
#map div.c-free { background: #e4e4e4; }
#map div.c-spilled { background: #ffd600; outline: 1px solid #e65100; }
#map div.c-raw { background: #555; }
#gauge { position: relative; height: 12px; background: #e4e4e4; margin: .2em 0; width: 100%; }
#gauge-used { position: absolute; left: 0; top: 0; bottom: 0; background: #607d8b; }
#gauge .mark { position: absolute; top: -3px; bottom: -3px; width: 2px; }
#gauge-threshold { background: #d50000; } #gauge-target { background: #2e7d32; }
#gauge-labels { position: relative; height: 14px; font-size: 11px; }
#gauge-labels span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
#legend { display: flex; flex-wrap: wrap; gap: .3em .9em; margin: .3em 0 .5em; font-size: 11px; }
#legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: -1px; }
#strip { display: flex; height: 18px; border: 1px solid #ccc; }
#strip span { flex: 1; font-size: 0; }
.st-idle { background: #cfd8dc; } .st-check-usage { background: #90caf9; } .st-move-to-disk { background: #ef6c00; }
.st-cleanup-disk { background: #8e24aa; } .st-flush-all { background: #c62828; } .st-cancelling-flush { background: #6d4c41; }
#log { font: 11px/1.3 ui-monospace, monospace; background: #fff; border: 1px solid #ddd; padding: .4em; height: 14em; overflow: auto; white-space: pre-wrap; margin: 0; }
.chart-box { background: #fff; border: 1px solid #ddd; padding: .3em .6em; }
.chart.small { background: #fff; }
`;

export const PAGE_JS = `
(function () {
  "use strict";
  var hello = null;
  var points = [];
  var charts = {};
  var cellEls = [];
  var cellCodes = [];
  var STATE_CLASSES = ["idle", "check-usage", "move-to-disk", "cleanup-disk", "flush-all", "cancelling-flush"];
  var $ = function (id) { return document.getElementById(id); };

  function hue(k) { return (k * 137.508 + 200) % 360; }
  function streamColour(k, pending) { return "hsl(" + hue(k) + ",70%," + (pending ? "78%" : "42%") + ")"; }
  function duration(ms) {
    if (!isFinite(ms)) return "-";
    var s = Math.round(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + r + "s";
  }
  function short(ms) {
    var m = Math.round(ms / 60000), d = Math.floor(m / 1440), h = Math.floor(m % 1440 / 60), r = m % 60;
    if (d) return d + "d" + (h ? " " + h + "h" : "");
    if (h) return h + "h" + (r ? " " + r + "m" : "");
    return r + "m";
  }
  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " B";
  }

  function cellClass(code) {
    if (code === ".") return "c-free";
    if (code === "*") return "c-spilled";
    if (code === "#") return "c-raw";
    return "";
  }

  function mapBuild(n) {
    var map = $("map");
    map.textContent = "";
    cellEls = [];
    cellCodes = [];
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < n; i++) {
      var el = document.createElement("div");
      el.setAttribute("data-sector", String(i));
      el.className = "c-free";
      fragment.appendChild(el);
      cellEls.push(el);
      cellCodes.push(".");
    }
    map.appendChild(fragment);
  }

  function mapDraw(cells) {
    if (cells === null) return;
    if (cellEls.length !== cells.length) mapBuild(cells.length);
    for (var i = 0; i < cells.length; i++) {
      var code = cells.charAt(i);
      if (code === cellCodes[i]) continue;
      cellCodes[i] = code;
      var el = cellEls[i];
      var cls = cellClass(code);
      el.className = cls || (code >= "a" ? "c-pending" : "c-new");
      if (cls) { el.style.background = ""; el.title = ""; continue; }
      var pending = code >= "a";
      var k = code.charCodeAt(0) - (pending ? 97 : 65);
      el.style.background = streamColour(k, pending);
      el.title = "sector " + i + ": " + (hello.streams[k] || "stream " + k) + (pending ? " (pending)" : "");
    }
  }

  function legendDraw() {
    var legend = $("legend");
    var items = [["#e4e4e4", "free"], ["#ffd600", "just spilled"], ["#555", "raw"]];
    hello.streams.forEach(function (name, k) {
      if (k < 26) items.push([streamColour(k, false), name]);
    });
    items.push([streamColour(0, true), "light: pending (read, not yet acknowledged)"]);
    legend.textContent = "";
    items.forEach(function (item) {
      var span = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = item[0];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(item[1]));
      legend.appendChild(span);
    });
    $("gauge-threshold").style.left = hello.spillThresholdPercent + "%";
    $("gauge-target").style.left = hello.spillTargetPercent + "%";
    var labels = $("gauge-labels");
    labels.textContent = "";
    [[hello.spillTargetPercent, "target " + hello.spillTargetPercent + "%"], [hello.spillThresholdPercent, "spill " + hello.spillThresholdPercent + "%"]].forEach(function (l) {
      var span = document.createElement("span");
      span.style.left = l[0] + "%";
      span.textContent = l[1];
      labels.appendChild(span);
    });
  }

  function width(el) { return Math.max(300, el.clientWidth - 4); }

  function chartMake(id, series, extra) {
    var el = $(id);
    var opts = {
      width: width(el), height: id === "chart-link" ? 70 : 180,
      scales: { x: { time: false } },
      axes: [{ values: function (u, vals) { return vals.map(function (v) { return short(v * 1000); }); }, space: 70 }, { size: 64 }],
      series: [{ label: "since start", value: function (u, v) { return v === null ? "-" : duration(v * 1000); } }].concat(series.map(function (s) {
        s.points = { show: false };
        return s;
      })),
      legend: { show: id !== "chart-link", live: false }
    };
    if (extra) extra(opts);
    var data = [[]];
    series.forEach(function () { data.push([]); });
    charts[id] = new uPlot(opts, data, el);
  }

  function chartsBuild() {
    Object.keys(charts).forEach(function (k) { charts[k].destroy(); });
    charts = {};
    chartMake("chart-ram", [
      { label: "RAM used %", stroke: "#1565c0", width: 2 },
      { label: "spill threshold", stroke: "#d50000", dash: [6, 4] },
      { label: "spill target", stroke: "#2e7d32", dash: [2, 4] }
    ], function (o) { o.scales.y = { range: [0, 100] }; });
    chartMake("chart-disk", [
      { label: "disk bytes", stroke: "#6a1b9a", width: 2, scale: "b", value: function (u, v) { return v === null ? "-" : bytes(v); } },
      { label: "quota", stroke: "#d50000", dash: [6, 4], scale: "b", value: function (u, v) { return v === null ? "-" : bytes(v); } },
      { label: "files", stroke: "#ef6c00", scale: "f" },
      { label: "files max", stroke: "#ef6c00", dash: [2, 4], scale: "f" }
    ], function (o) {
      o.axes = [o.axes[0], { scale: "b", values: function (u, vals) { return vals.map(bytes); }, size: 70 }, { scale: "f", side: 1, grid: { show: false } }];
    });
    var backlogSeries = (hello.streams.length ? hello.streams : ["backlog"]).map(function (name, k) {
      return { label: name, stroke: streamColour(k, false) };
    });
    chartMake("chart-backlog", backlogSeries);
    chartMake("chart-records", [
      { label: "written", stroke: "#1565c0" },
      { label: "uploaded", stroke: "#2e7d32" },
      { label: "discarded", stroke: "#d50000" }
    ]);
    chartMake("chart-lag", [{ label: "upload lag (s)", stroke: "#00838f" }]);
    chartMake("chart-link", [{ label: "uplink up", stroke: "#2e7d32", fill: "rgba(46,125,50,.35)", paths: uPlot.paths.stepped({ align: 1 }) }],
      function (o) { o.scales.y = { range: [0, 1] }; o.axes[1] = { show: false }; });
  }

  function chartsDraw() {
    if (!hello) return;
    var t = [], ram = [], thr = [], tgt = [], disk = [], quota = [], files = [], filesMax = [];
    var backlog = [], written = [], uploaded = [], discarded = [], lag = [], link = [];
    var nStreams = Math.max(1, hello.streams.length);
    for (var k = 0; k < nStreams; k++) backlog.push([]);
    points.forEach(function (p) {
      t.push((p.simMs - hello.runStartMs) / 1000);
      ram.push(p.usagePercent); thr.push(hello.spillThresholdPercent); tgt.push(hello.spillTargetPercent);
      disk.push(p.diskBytesUsed); quota.push(hello.quotaBytes); files.push(p.filesLive); filesMax.push(hello.filesMax);
      for (var k = 0; k < nStreams; k++) backlog[k].push(p.backlog[k] === undefined ? null : p.backlog[k]);
      written.push(p.written); uploaded.push(p.uploaded); discarded.push(p.discarded);
      lag.push(p.uploadLagMs === null ? null : p.uploadLagMs / 1000);
      link.push(p.linkUp ? 1 : 0);
    });
    charts["chart-ram"].setData([t, ram, thr, tgt]);
    charts["chart-disk"].setData([t, disk, quota, files, filesMax]);
    charts["chart-backlog"].setData([t].concat(backlog));
    charts["chart-records"].setData([t, written, uploaded, discarded]);
    charts["chart-lag"].setData([t, lag]);
    charts["chart-link"].setData([t, link]);
  }

  function stripDraw(states, endMs) {
    var strip = $("strip");
    strip.textContent = "";
    states.forEach(function (s, i) {
      var span = document.createElement("span");
      span.className = "st-" + (STATE_CLASSES.indexOf(s.state) >= 0 ? s.state : "idle");
      var next = i + 1 < states.length ? states[i + 1].simMs : endMs;
      span.title = s.state + " at +" + duration(s.simMs - hello.runStartMs) + " for " + duration(next - s.simMs);
      strip.appendChild(span);
    });
  }

  function frameDraw(f) {
    $("clock").textContent = "simulated +" + duration(f.sinceStartMs) + (hello.endMs !== null ? " of " + duration(hello.endMs - hello.runStartMs) : "") +
      "  ·  " + (f.paused ? "paused" : "speed " + f.speed + "×");
    $("state-now").textContent = f.state;
    $("phase").textContent = "(" + f.phase + (f.flushProgress > 0 && f.flushProgress < 101 ? ", flush " + f.flushProgress + "%" : "") + ")";
    $("link-now").textContent = f.linkUp ? "up" : "down";
    $("gauge-used").style.width = Math.min(100, f.usagePercent) + "%";
    $("sat-text").textContent = f.sectorsUsed + " of " + f.sectorsTotal + " sectors used (" + f.usagePercent.toFixed(1) + "%)";
    var c = f.cleanup;
    $("cleanup").textContent = c.complete ? "complete: " + c.filesDeleted + " files deleted" :
      c.filesPending + " files to delete, " + c.filesDeleted + " deleted, ETA " + (c.etaMs < 0 ? "unknown" : duration(c.etaMs));
    $("log").textContent = f.log.join("\\n");
    if (f.cells === null) $("map").textContent = "A trace file has no SAT map: it holds the series, not the RAM.";
    else mapDraw(f.cells);
    stripDraw(f.states, f.simMs);
  }

  function controlSend(body) {
    fetch("/control", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  $("pause").addEventListener("click", function () { controlSend({ action: "pause" }); });
  $("resume").addEventListener("click", function () { controlSend({ action: "resume" }); });
  $("speed-set").addEventListener("click", function () {
    var text = $("speed").value.trim();
    controlSend({ action: "speed", speed: text === "max" ? "max" : Number(text) });
  });

  var source = new EventSource("/events");
  source.addEventListener("hello", function (e) {
    hello = JSON.parse(e.data);
    $("board").textContent = hello.board;
    $("title").textContent = (hello.source === "trace" ? "trace " : "storage ") + hello.title;
    $("controls").hidden = !hello.controls;
    legendDraw();
    chartsBuild();
  });
  source.addEventListener("history", function (e) {
    points = JSON.parse(e.data);
    chartsDraw();
  });
  source.addEventListener("frame", function (e) {
    var f = JSON.parse(e.data);
    var last = points[points.length - 1];
    if (!last || last.simMs !== f.simMs) points.push(f);
    if (points.length > 4000) points.splice(0, points.length - 4000);
    frameDraw(f);
    chartsDraw();
    document.body.setAttribute("data-frames", String((Number(document.body.getAttribute("data-frames")) || 0) + 1));
  });
  source.addEventListener("end", function () {
    document.body.setAttribute("data-ended", "1");
    $("clock").textContent += "  ·  ended";
    source.close();
  });
})();
`;
