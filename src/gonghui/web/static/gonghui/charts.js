// Charts on the fund pages, drawn with the vendored ECharts (static/vendor/echarts.min.js,
// fetched by scripts/vendor.py: no CDN). The table under each chart carries the same
// figures, so without the library the chart stays hidden and nothing is lost.
(function () {
  "use strict";

  function draw(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    element.hidden = false;
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.committed, data.labels.paid] },
      grid: { left: 8, right: 8, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value" },
      series: [
        { name: data.labels.committed, type: "bar", data: data.committed.map(Number) },
        { name: data.labels.paid, type: "bar", data: data.paid.map(Number) }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
