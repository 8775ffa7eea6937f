/* Dashboard chart over history: daily values from the page's data-chart attribute
   (no inline script), drawn with uPlot; "Exporter en PNG" saves the chart as drawn,
   with its title and legend, entirely in the browser. */
(function () {
  "use strict";
  var box = document.getElementById("dash-chart");
  var button = document.getElementById("dash-chart-png");
  if (!box) { return; }
  var COLOURS = ["#2f5d2a", "#b45309", "#1d4ed8", "#7c3aed"];
  var chart = JSON.parse(box.dataset.chart || "{}");
  var days = chart.days || [];
  var plot = null;
  if (!days.length) {
    box.textContent = box.dataset.empty;
    box.dataset.points = "0";
    box.dataset.ready = "true";
    return;
  }
  var xs = days.map(function (d) { return Date.parse(d + "T12:00:00Z") / 1000; });
  var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : null;
  var series = [{}];
  var data = [xs];
  (chart.series || []).forEach(function (s, i) {
    series.push({ label: s.label + " (" + chart.unit + ")", stroke: COLOURS[i % COLOURS.length],
                  fill: COLOURS[i % COLOURS.length] + "99", width: 1, paths: bars || undefined });
    data.push(s.values);
  });
  plot = new uPlot({
    width: box.clientWidth || 640, height: 300, series: series,
    axes: [{}, { label: chart.unit, size: 70 }]
  }, data, box);
  box.dataset.points = String(xs.length);
  box.dataset.ready = "true";

  function png() {
    var source = plot.ctx.canvas;
    var ratio = source.width / (plot.width || source.width);
    var title = box.dataset.title || "";
    var band = Math.round(36 * ratio), legend = Math.round(28 * ratio);
    var out = document.createElement("canvas");
    out.width = source.width;
    out.height = source.height + band + legend;
    var ctx = out.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = "#1f2937";
    ctx.font = "bold " + Math.round(16 * ratio) + "px sans-serif";
    ctx.fillText(title, Math.round(8 * ratio), Math.round(24 * ratio));
    ctx.drawImage(source, 0, band);
    ctx.font = Math.round(13 * ratio) + "px sans-serif";
    var x = Math.round(8 * ratio), y = band + source.height + Math.round(19 * ratio);
    series.slice(1).forEach(function (s) {
      ctx.fillStyle = s.stroke;
      ctx.fillRect(x, y - Math.round(11 * ratio), Math.round(14 * ratio), Math.round(11 * ratio));
      ctx.fillStyle = "#1f2937";
      ctx.fillText(s.label, x + Math.round(20 * ratio), y);
      x += Math.round(20 * ratio) + ctx.measureText(s.label).width + Math.round(24 * ratio);
    });
    out.toBlob(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = box.dataset.file || "bocage-chart.png";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }, "image/png");
  }
  if (button) {
    button.hidden = false;
    button.addEventListener("click", png);
  }
})();
