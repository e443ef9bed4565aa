/* capcast dashboard charts: draws the JSON in <script type="application/json" id="chart-data">
 * with plotly.js (served by this app from the plotly package; no CDN). Hover shows values, drag
 * zooms, double-click resets; hovering or clicking a method (curve or verdict-table row) or a
 * benchmark (heatmap row or agreement-table row) highlights it in both. Without JavaScript the
 * page keeps its server-rendered SVG. Every string from the data is escaped before plotly sees it
 * (plotly reads a few HTML tags in labels). */
(function () {
  "use strict";

  var COLORSCALE = [[0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"],
    [1, "#2166ac"]];
  var CONFIG = { responsive: true, displaylogo: false, scrollZoom: false };
  var FONT = { family: "system-ui, sans-serif", size: 12, color: "#222" };

  function esc(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function num(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "?";
    return Number(value).toPrecision(digits || 3).replace(/\.?0+e/, "e").replace(/e\+?/, "e");
  }

  function hexAlpha(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function baseLayout(spec, extra) {
    var layout = {
      title: { text: esc(spec.title), font: { size: 15 } },
      font: FONT,
      hovermode: "closest",
      margin: { l: 70, r: 20, t: 50, b: 60 },
      plot_bgcolor: "#fff",
      paper_bgcolor: "#fff",
      hoverlabel: { bgcolor: "#fff", bordercolor: "#444", font: { size: 12 } },
    };
    for (var k in extra) layout[k] = extra[k];
    return layout;
  }

  /* Highlights one key (a method or a benchmark) in the chart and the table rows that carry it. */
  function Linker(rowSelector, attr, apply) {
    var pinned = null;
    var rows = Array.prototype.slice.call(document.querySelectorAll(rowSelector));
    var state = { current: null };
    function show(key) {
      state.current = key;
      rows.forEach(function (row) {
        row.classList.toggle("linked", key !== null && row.getAttribute(attr) === key);
        row.classList.toggle("pinned", pinned !== null && row.getAttribute(attr) === pinned);
      });
      apply(key);
      var fig = document.querySelector("figure.js-chart");
      if (fig) fig.setAttribute("data-highlight", key === null ? "" : key);
    }
    rows.forEach(function (row) {
      var key = row.getAttribute(attr);
      row.addEventListener("mouseenter", function () { show(key); });
      row.addEventListener("mouseleave", function () { show(pinned); });
      row.addEventListener("click", function () {
        pinned = pinned === key ? null : key;
        show(pinned);
      });
    });
    state.hover = function (key) { show(key); };
    state.unhover = function () { show(pinned); };
    return state;
  }

  function scaling(gd, spec) {
    var traces = [];
    var byMethod = {};
    var ylabel = esc(spec.ylabel);
    spec.curves.forEach(function (c) {
      var idx = [];
      var fill = hexAlpha(c.color, 0.15);
      idx.push(traces.length);
      traces.push({ x: c.x, y: c.upper, mode: "lines", line: { width: 0, color: c.color },
        hoverinfo: "skip", showlegend: false, legendgroup: c.method, meta: c.method,
        connectgaps: false });
      idx.push(traces.length);
      traces.push({ x: c.x, y: c.lower, mode: "lines", line: { width: 0, color: c.color },
        fill: "tonexty", fillcolor: fill, name: esc(c.method) + " interval",
        legendgroup: c.method, meta: c.method, hoverinfo: "skip" });
      idx.push(traces.length);
      traces.push({ x: c.x, y: c.point, mode: "lines", line: { width: 2.5, color: c.color },
        name: esc(c.method), legendgroup: c.method, meta: c.method,
        customdata: c.lower.map(function (lo, i) { return [lo, c.upper[i]]; }),
        hovertemplate: "<b>" + esc(c.method) + "</b><br>compute %{x:.3s} FLOPs<br>" + ylabel +
          " %{y:.4g} [%{customdata[0]:.4g}, %{customdata[1]:.4g}]<extra></extra>" });
      if (c.target) {
        var t = c.target;
        idx.push(traces.length);
        traces.push({ x: [t.x], y: [t.point], mode: "markers", legendgroup: c.method,
          meta: c.method, showlegend: false,
          marker: { symbol: "diamond", size: 12, color: c.color, line: { color: "#000", width: 1 } },
          error_y: { type: "data", symmetric: false, array: [t.upper - t.point],
            arrayminus: [t.point - t.lower], color: c.color, thickness: 2, width: 6 },
          hovertemplate: "<b>" + esc(c.method) + " forecast</b><br>target " + num(t.x) +
            " FLOPs<br>" + ylabel + " " + num(t.point, 4) + " [" + num(t.lower, 4) + ", " +
            num(t.upper, 4) + "]<extra></extra>" });
      }
      byMethod[c.method] = idx;
    });
    var p = spec.points;
    [false, true].forEach(function (held) {
      var keep = p.x.map(function (_, i) { return i; }).filter(function (i) {
        return p.held_out[i] === held;
      });
      if (!keep.length) return;
      traces.push({
        x: keep.map(function (i) { return p.x[i]; }),
        y: keep.map(function (i) { return p.y[i]; }),
        mode: "markers",
        name: held ? "measured, not fitted" : "measured",
        marker: held ? { size: 9, color: "rgba(0,0,0,0)", line: { color: "#000", width: 1.5 } }
          : { size: 7, color: "#111" },
        text: keep.map(function (i) {
          return "<b>" + esc(p.model[i]) + "</b><br>N " + num(p.n_params[i]) + " params, D " +
            num(p.n_tokens[i]) + " tokens<br>compute " + num(p.x[i]) + " FLOPs<br>" + ylabel +
            " " + num(p.y[i], 4) + (held ? "<br>(not fitted)" : "");
        }),
        hovertemplate: "%{text}<extra></extra>",
      });
    });
    var layout = baseLayout(spec, {
      height: 540,
      xaxis: { type: "log", title: { text: esc(spec.xlabel) }, exponentformat: "power",
        gridcolor: "#e6e6e6", zeroline: false },
      yaxis: { title: { text: ylabel }, gridcolor: "#e6e6e6", zeroline: false },
      legend: { orientation: "h", y: -0.18 },
    });
    return Plotly.newPlot(gd, traces, layout, CONFIG).then(function () {
      var link = Linker("tr[data-method]", "data-method", function (method) {
        var opacity = traces.map(function (tr) {
          return method === null || tr.meta === undefined || tr.meta === method ? 1 : 0.2;
        });
        var width = traces.map(function (tr) {
          return tr.mode === "lines" && tr.line.width ? (tr.meta === method ? 4.5 : 2.5) :
            (tr.line ? tr.line.width : undefined);
        });
        Plotly.restyle(gd, { opacity: opacity, "line.width": width });
      });
      gd.on("plotly_hover", function (ev) {
        var meta = ev.points[0].data.meta;
        if (meta !== undefined) link.hover(meta);
      });
      gd.on("plotly_unhover", function () { link.unhover(); });
      return { byMethod: byMethod, link: link };
    });
  }

  function heatmap(gd, spec) {
    var labels = spec.rows.map(function (b, i) {
      return esc(b) + (spec.z[i] === null ? "" : " (z=" + (spec.z[i] >= 0 ? "+" : "") +
        spec.z[i].toFixed(2) + ")");
    });
    var custom = spec.rows.map(function (b, i) {
      return spec.columns.map(function () { return [esc(b), spec.z[i]]; });
    });
    var trace = {
      type: "heatmap", z: spec.values, x: spec.columns.map(esc), y: labels,
      zmin: -1, zmax: 1, colorscale: COLORSCALE, customdata: custom, xgap: 1, ygap: 1,
      texttemplate: "%{z:.2f}", textfont: { size: 10 },
      colorbar: { title: { text: "Kendall τ" }, thickness: 14 },
      hovertemplate: "<b>%{customdata[0]}</b><br>%{x}: τ = %{z:.3f}<br>z = %{customdata[1]:+.2f}" +
        "<extra></extra>",
    };
    var left = Math.min(360, 40 + 6.5 * Math.max.apply(null, labels.map(function (l) {
      return l.length;
    })));
    var layout = baseLayout(spec, {
      height: Math.max(320, 130 + 24 * spec.rows.length),
      margin: { l: left, r: 20, t: 50, b: 50 },
      yaxis: { autorange: "reversed", type: "category", automargin: true },
      xaxis: { type: "category", side: "bottom" },
    });
    return Plotly.newPlot(gd, [trace], layout, CONFIG).then(function () {
      var link = Linker("tr[data-benchmark]", "data-benchmark", function (bench) {
        var i = bench === null ? -1 : spec.rows.indexOf(bench);
        Plotly.relayout(gd, { shapes: i < 0 ? [] : [{ type: "rect", xref: "paper", x0: 0, x1: 1,
          yref: "y", y0: i - 0.5, y1: i + 0.5, line: { color: "#e0b400", width: 3 } }] });
      });
      gd.on("plotly_hover", function (ev) { link.hover(spec.rows[ev.points[0].pointIndex[0]]); });
      gd.on("plotly_unhover", function () { link.unhover(); });
      return { link: link };
    });
  }

  function density(gd, spec) {
    var p = spec.points;
    var traces = [{
      x: p.date, y: p.y, mode: "markers", name: "models",
      marker: { size: 8, color: "#1f77b4", line: { color: "#fff", width: 0.5 } },
      text: p.date.map(function (d, i) {
        return "<b>" + esc(p.model[i]) + "</b><br>released " + d + "<br>N " + num(p.n_params[i]) +
          " params, effective " + num(p.effective[i]) + "<br>ln density " + num(p.y[i], 3);
      }),
      hovertemplate: "%{text}<extra></extra>",
    }];
    if (spec.law) {
      traces.push({ x: spec.law.date, y: spec.law.y, mode: "lines", name: esc(spec.law.label),
        line: { color: "#d62728", width: 2.5 },
        hovertemplate: "densing law<br>%{x}: ln ρ %{y:.3f}<extra></extra>" });
    }
    var layout = baseLayout(spec, {
      height: 500,
      xaxis: { type: "date", title: { text: "release date" }, gridcolor: "#e6e6e6" },
      yaxis: { title: { text: "ln capacity density" }, gridcolor: "#e6e6e6", zeroline: false },
      legend: { orientation: "h", y: -0.2 },
    });
    return Plotly.newPlot(gd, traces, layout, CONFIG).then(function () { return {}; });
  }

  var KINDS = { scaling: scaling, heatmap: heatmap, density: density };

  function draw() {
    var data = document.getElementById("chart-data");
    var gd = document.getElementById("chart");
    if (!data || !gd || !window.Plotly) return;
    var spec = JSON.parse(data.textContent);
    var figure = gd.closest("figure");
    gd.hidden = false;
    if (figure) figure.classList.add("js-chart");
    KINDS[spec.kind](gd, spec).then(function (state) {
      gd.setAttribute("data-rendered", spec.kind);
      window.capcastChart = { gd: gd, spec: spec, state: state };
    }, function (err) {
      gd.hidden = true;  // the static SVG stays
      if (figure) figure.classList.remove("js-chart");
      gd.setAttribute("data-error", String(err));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
