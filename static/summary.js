// Clinical summary. The page answers at once with a summary area (`data-summary-src`): fetch the summary fragment
// from our own origin, swap it in and draw its pain chart. A failure shows the app's own error text (relaunch
// etc.) in the area, never a blank. Without JavaScript the area links to the summary as a page.
// The chart: pain scores over time with the procedures marked, using Chart.js served from our own origin
// (/vendor/chart.umd.js). Its data is a JSON block (not executed, so CSP script-src 'self' holds). The timeline
// table below the chart lists the same procedures and relief.
(function () {
  function showError(area, title, message) {
    bannerNotRead();
    var section = document.createElement("section");
    section.className = "error";
    section.setAttribute("role", "alert");
    section.setAttribute("data-summary-error", "");
    var heading = document.createElement("h2");
    heading.textContent = title;
    var text = document.createElement("p");
    text.textContent = message;
    section.appendChild(heading);
    section.appendChild(text);
    area.replaceChildren(section);
  }

  // The app's error page for this request (same words as a full page): its `section.error`, heading demoted.
  function showErrorPage(area, status, html) {
    bannerNotRead();
    var page = new DOMParser().parseFromString(html, "text/html");
    var error = page.querySelector("section.error");
    if (!error) {
      showError(area, "The summary could not be loaded", "The app answered HTTP " + status + ". Reload the page to try again.");
      return;
    }
    var heading = error.querySelector("h1");
    if (heading) {
      var h2 = document.createElement("h2");
      h2.textContent = heading.textContent;
      heading.replaceWith(h2);
    }
    error.setAttribute("data-summary-error", "");
    area.replaceChildren(document.importNode(error, true));
  }

  // The banner slot the page shows at once is filled with the Patient read with the record (or removed when the
  // Patient could not be read, as before: no banner without a Patient).
  function showBanner(area) {
    var carried = area.querySelector("[data-summary-banner]");
    var slot = document.querySelector("[data-banner-pending]");
    var banner = carried ? carried.querySelector(".patient-banner") : null;
    if (slot) {
      if (banner) { slot.replaceWith(banner); } else { slot.remove(); }
    }
    if (carried) { carried.remove(); }
  }

  function bannerNotRead() {
    var slot = document.querySelector("[data-banner-pending]");
    if (!slot) { return; }
    slot.setAttribute("aria-busy", "false");
    slot.querySelector(".note").textContent = "The patient's name could not be read (see below).";
  }

  function showClinician(fragment) {
    var name = fragment.querySelector("[data-summary-clinician]");
    var header = document.querySelector(".app-header");
    if (!name || !header || header.querySelector("[data-clinician]")) { return; }
    var shown = document.createElement("span");
    shown.className = "clinician";
    shown.setAttribute("data-clinician", "");
    shown.textContent = name.textContent;
    header.appendChild(shown);
  }

  function load(area) {
    var done = function () { area.setAttribute("aria-busy", "false"); };
    fetch(area.getAttribute("data-summary-src"), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    }).then(function (response) {
      return response.text().then(function (html) {
        if (!response.ok) { showErrorPage(area, response.status, html); return; }
        var fragment = new DOMParser().parseFromString(html, "text/html").querySelector("[data-summary-loaded]");
        if (!fragment) { showErrorPage(area, response.status, html); return; }
        area.replaceChildren(document.importNode(fragment, true));
        showBanner(area);
        showClinician(area);
        drawPainChart();
      });
    }).catch(function () {
      showError(area, "The summary could not be loaded",
        "The app could not be reached. Check the connection and reload the page to try again.");
    }).then(done, done);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector("[data-summary-src]");
    if (area) { load(area); } else { drawPainChart(); }
  });

  function drawPainChart() {
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
  }
})();
