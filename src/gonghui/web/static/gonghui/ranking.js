// Charts of a competition's leaderboard, drawn with the vendored ECharts
// (static/vendor/echarts.min.js, fetched by scripts/vendor.py: no CDN): a bar chart of the
// total points by organisation, and a radar per union of the points earned on each part
// against the part's full points. The table above carries the same figures, so without the
// library the charts stay hidden and nothing is lost.
(function () {
  "use strict";

  function source(element) {
    var found = document.getElementById(element.dataset.source);
    return found ? JSON.parse(found.textContent) : null;
  }

  function bar(element, data) {
    element.hidden = false;
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 24, bottom: 8, top: 24, containLabel: true },
      xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: data.names },
      series: [{ name: data.label, type: "bar", data: data.totals.map(Number), label: { show: true, position: "right" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function radars(element, data) {
    if (!data.axes.length) return;
    element.hidden = false;
    element.style.display = "grid";
    element.style.gridTemplateColumns = "repeat(auto-fill, minmax(240px, 1fr))";
    var indicator = data.axes.map(function (axis) {
      return { name: axis.name, max: Number(axis.max) || 1 };
    });
    data.unions.forEach(function (union) {
      var box = document.createElement("div");
      box.className = "radar";
      box.style.height = "240px";
      box.setAttribute("role", "img");
      box.setAttribute("aria-label", union.name);
      element.appendChild(box);
      var chart = window.echarts.init(box, null, { renderer: "svg" });
      chart.setOption({
        title: { text: union.name, left: "center", textStyle: { fontSize: 12 } },
        tooltip: {},
        radar: { indicator: indicator, radius: "60%", center: ["50%", "58%"], axisName: { fontSize: 10 } },
        series: [{ type: "radar", data: [{ name: union.name, value: union.points.map(Number) }], areaStyle: { opacity: 0.2 } }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function start() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-ranking-chart]").forEach(function (element) {
      var data = source(element);
      if (!data) return;
      if (element.dataset.rankingChart === "bar") bar(element, data);
      else radars(element, data);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
