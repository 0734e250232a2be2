// Clinical summary: draw the pain scores over time with the procedures marked, using Chart.js served from our own
// origin (/vendor/chart.umd.js). The data is a JSON block in the page (not executed, so CSP script-src 'self' holds).
// Without JavaScript the timeline table below the chart lists the same procedures and relief.
document.addEventListener("DOMContentLoaded", function () {
  var canvas = document.getElementById("pain-chart");
  var source = document.getElementById("pain-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var colours = ["#0b5cad", "#1e6b34", "#7a4d00", "#6b2c91"];
  var day = function (iso) { return new Date(iso).getTime(); };
  var label = function (ms) { return new Date(ms).toISOString().slice(0, 10); };

  var datasets = data.series.map(function (series, index) {
    return {
      label: series.scale,
      data: series.points.map(function (p) { return { x: day(p.date), y: p.value }; }),
      borderColor: colours[index % colours.length],
      backgroundColor: colours[index % colours.length],
      pointRadius: 4,
      tension: 0,
    };
  });
  datasets.push({
    label: "Procedures",
    type: "scatter",
    data: data.procedures.map(function (p) { return { x: day(p.date), y: 10, label: p.label }; }),
    pointStyle: "triangle",
    rotation: 180,
    pointRadius: 8,
    borderColor: "#a4262c",
    backgroundColor: "#a4262c",
  });

  // Dashed vertical line at each procedure, so relief after it reads at a glance.
  var procedureLines = {
    id: "procedureLines",
    afterDatasetsDraw: function (chart) {
      var meta = chart.getDatasetMeta(chart.data.datasets.length - 1);
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "rgba(164, 38, 44, 0.45)";
      ctx.setLineDash([4, 4]);
      meta.data.forEach(function (point) {
        ctx.beginPath();
        ctx.moveTo(point.x, area.top);
        ctx.lineTo(point.x, area.bottom);
        ctx.stroke();
      });
      ctx.restore();
    },
  };

  new Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    plugins: [procedureLines],
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: true,
      scales: {
        x: { type: "linear", ticks: { callback: label, maxTicksLimit: 8 }, title: { display: true, text: "Date" } },
        y: { min: 0, max: 10, title: { display: true, text: "Pain (0-10)" } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            title: function (items) { return items.length ? label(items[0].parsed.x) : ""; },
            label: function (item) {
              return item.raw.label ? item.raw.label : item.dataset.label + ": " + item.parsed.y;
            },
          },
        },
      },
    },
  });
});
