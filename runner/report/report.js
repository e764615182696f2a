// Draws the run report's charts as inline SVG from the JSON in #report-data.
// Everything the page needs is in the page: no request leaves it. When every
// chart is drawn the <html> element gets data-charts="ok" (or "error"), so a
// headless browser can tell a drawn report from a broken one.
"use strict";

(function () {
  var NS = "http://www.w3.org/2000/svg";
  // viewBox sizes: the progress chart spans the page, bar charts half of it.
  var WIDE = { width: 960, height: 320 };
  var HALF = { width: 640, height: 300 };
  var MARGIN = { left: 72, right: 16, top: 20, bottom: 44 };
  // Bars get a value label only while there is room to read it.
  var MAX_LABELLED_BARS = 30;
  var COLOURS = [
    "#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1",
    "#b7791f", "#2c7a7b", "#97266d", "#4a5568", "#d53f8c",
  ];

  function colour(i) {
    return COLOURS[i % COLOURS.length];
  }

  function node(name, attrs, parent) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      el.setAttribute(key, attrs[key]);
    });
    if (parent) parent.appendChild(el);
    return el;
  }

  function label(parent, x, y, text, attrs) {
    var el = node("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    el.textContent = text;
    return el;
  }

  // Round steps (1, 2, 5 x 10^k) so axis labels read as plain numbers.
  function ticks(max, wanted) {
    if (!(max > 0)) max = 1;
    var raw = max / wanted;
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / magnitude;
    var step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
    var out = [];
    for (var v = 0; v < max + step * 1e-9; v += step) out.push(v);
    if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
    return out;
  }

  function number(v) {
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
    return String(Math.round(v * 100) / 100);
  }

  // Axes, grid lines and axis titles; returns functions from data to pixels.
  function frame(svg, size, xMax, yMax, xTitle, yTitle, yFormat, xTicks) {
    var w = size.width - MARGIN.left - MARGIN.right;
    var h = size.height - MARGIN.top - MARGIN.bottom;
    var ys = ticks(yMax, 5);
    var yTop = ys[ys.length - 1];
    var x = function (v) { return MARGIN.left + (v / xMax) * w; };
    var y = function (v) { return MARGIN.top + h - (v / yTop) * h; };
    var grid = node("g", { class: "grid" }, svg);
    ys.forEach(function (v) {
      node("line", { x1: MARGIN.left, x2: MARGIN.left + w, y1: y(v), y2: y(v) }, grid);
      label(grid, MARGIN.left - 6, y(v) + 4, yFormat(v), { "text-anchor": "end" });
    });
    (xTicks || []).forEach(function (v) {
      label(grid, x(v), MARGIN.top + h + 16, number(v), { "text-anchor": "middle" });
    });
    node("line", {
      class: "axis", x1: MARGIN.left, x2: MARGIN.left + w,
      y1: MARGIN.top + h, y2: MARGIN.top + h,
    }, svg);
    node("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + h }, svg);
    label(svg, MARGIN.left + w / 2, size.height - 6, xTitle, { class: "title", "text-anchor": "middle" });
    label(svg, 16, MARGIN.top + h / 2, yTitle, {
      class: "title", "text-anchor": "middle",
      transform: "rotate(-90 16 " + (MARGIN.top + h / 2) + ")",
    });
    return { x: x, y: y, w: w, h: h, yTop: yTop };
  }

  function newSvg(box, name, size) {
    return node("svg", {
      viewBox: "0 0 " + size.width + " " + size.height,
      role: "img",
      "aria-label": name,
      class: "chart-svg",
    }, box);
  }

  function legend(box, shards) {
    var list = document.createElement("ul");
    list.className = "legend";
    shards.forEach(function (shard, i) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour(i);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode("shard " + shard.shard));
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function progressChart(box, run) {
    var svg = newSvg(box, "Sites done over time per shard", WIDE);
    var xMax = 0;
    var yMax = 0;
    run.shards.forEach(function (shard) {
      shard.series.forEach(function (p) {
        xMax = Math.max(xMax, p[0]);
        yMax = Math.max(yMax, p[1]);
      });
      if (shard.sites) yMax = Math.max(yMax, shard.sites);
    });
    var xs = ticks(xMax, 8);
    var f = frame(svg, WIDE, xs[xs.length - 1], yMax, "hours since the run started",
      "sites done", number, xs);
    run.shards.forEach(function (shard, i) {
      if (!shard.series.length) return;
      var points = shard.series.map(function (p) {
        return f.x(p[0]).toFixed(1) + "," + f.y(p[1]).toFixed(1);
      });
      var line = node("polyline", {
        class: "series", points: points.join(" "), stroke: colour(i),
      }, svg);
      node("title", {}, line).textContent = "shard " + shard.shard + ": " +
        number(shard.series[shard.series.length - 1][1]) + " sites";
    });
    if (!run.shards.some(function (s) { return s.series.length; })) {
      label(svg, WIDE.width / 2, WIDE.height / 2, "no Visiting lines in any log yet", {
        "text-anchor": "middle",
      });
    }
    legend(box, run.shards);
  }

  function barChart(box, run, key, name, yTitle, format, reference, referenceName) {
    var svg = newSvg(box, name, HALF);
    var values = run.shards.map(function (s) { return s[key]; });
    var yMax = Math.max.apply(null, values.filter(function (v) { return v != null; }).concat([reference || 0, 0]));
    var f = frame(svg, HALF, 1, yMax, "shard", yTitle, format, []);
    var slot = f.w / Math.max(values.length, 1);
    var barWidth = Math.max(1, slot * 0.7);
    var every = Math.ceil(values.length / 20);
    values.forEach(function (v, i) {
      var x = MARGIN.left + i * slot + (slot - barWidth) / 2;
      if (i % every === 0) {
        label(svg, x + barWidth / 2, MARGIN.top + f.h + 16, run.shards[i].shard, { "text-anchor": "middle" });
      }
      if (v == null) {
        label(svg, x + barWidth / 2, MARGIN.top + f.h - 4, "n/a", { "text-anchor": "middle", class: "na" });
        return;
      }
      var bar = node("rect", {
        class: "bar", x: x, width: barWidth, y: f.y(v), height: Math.max(0, MARGIN.top + f.h - f.y(v)),
        fill: colour(i),
      }, svg);
      node("title", {}, bar).textContent = "shard " + run.shards[i].shard + ": " + format(v);
      if (values.length <= MAX_LABELLED_BARS) {
        label(svg, x + barWidth / 2, f.y(v) - 4, format(v), { "text-anchor": "middle", class: "value" });
      }
    });
    if (reference != null) {
      node("line", {
        class: "reference", x1: MARGIN.left, x2: MARGIN.left + f.w, y1: f.y(reference), y2: f.y(reference),
      }, svg);
      // Named beside the axis title, where no bar or value label can cover it.
      label(svg, MARGIN.left + f.w, HALF.height - 6, "- - " + referenceName + " " + format(reference), {
        "text-anchor": "end", class: "reference-label",
      });
    }
  }

  var DRAW = {
    progress: function (box, run) { progressChart(box, run); },
    speed: function (box, run) {
      barChart(box, run, "sites_per_hour", "Speed per shard", "sites per hour",
        function (v) { return Math.round(v).toLocaleString("en-US"); }, run.average_speed,
        "average");
    },
    errors: function (box, run) {
      barChart(box, run, "error_rate", "Error rate per shard", "errored sites",
        function (v) { return (v * 100).toFixed(1) + "%"; }, run.error_rate, "run");
    },
  };

  var root = document.documentElement;
  var failed = false;
  var drawn = 0;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  document.querySelectorAll("[data-chart]").forEach(function (box) {
    try {
      DRAW[box.getAttribute("data-chart")](box, data.runs[Number(box.getAttribute("data-run"))]);
      drawn += 1;
    } catch (e) {
      failed = true;
      box.textContent = "This chart could not be drawn: " + e;
      root.setAttribute("data-chart-error", String(e));
    }
  });
  root.setAttribute("data-chart-count", String(drawn));
  root.setAttribute("data-charts", failed ? "error" : "ok");
})();
