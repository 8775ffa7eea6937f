/* Equipment history chart: reads the NGSI-LD temporal API, aggregated by period. */
(function () {
  "use strict";
  var box = document.getElementById("chart");
  var form = document.getElementById("chart-form");
  if (!box || !form) { return; }
  var plot = null;
  // raw values for a day; averages beyond, so that a year stays a few hundred points
  var AGGREGATION = { P1D: null, P7D: "PT1H", P30D: "PT6H", P365D: "P1D" };
  var SPAN_MS = { P1D: 864e5, P7D: 7 * 864e5, P30D: 30 * 864e5, P365D: 365 * 864e5 };

  function series(body, attr) {
    var key = Object.keys(body).filter(function (k) {
      return k !== "id" && k !== "type" && k !== "@context" && k !== "scope";
    })[0];
    var a = key ? body[key] : null;
    if (Array.isArray(a)) { a = a[0]; }
    if (!a) { return [[], []]; }
    var pairs = a.values || a.avg || [];
    var xs = [], ys = [];
    pairs.forEach(function (p) {
      var t = Date.parse(p[1]);
      if (!isNaN(t) && typeof p[0] === "number") { xs.push(t / 1000); ys.push(p[0]); }
    });
    return [xs, ys];
  }
  function empty() {
    if (plot) { plot.destroy(); plot = null; }
    box.textContent = box.dataset.empty;
    box.dataset.points = "0";
  }
  function url(attr, since, aggregate) {
    var q = new URLSearchParams({ attrs: attr, timerel: "after", timeAt: since });
    if (aggregate) {
      q.set("options", "aggregatedValues");
      q.set("aggrMethods", "avg");
      q.set("aggrPeriodDuration", aggregate);
    } else {
      q.set("options", "temporalValues");
    }
    return "/ngsi-ld/v1/temporal/entities/" + encodeURIComponent(box.dataset.entity) + "?" + q;
  }
  function fetchJson(u) {
    return fetch(u, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; });
  }
  function draw(body, attr) {
    var data = body ? series(body, attr) : [[], []];
    if (!data[0].length) { empty(); return; }
    box.textContent = "";
    if (plot) { plot.destroy(); }
    var label = form.elements.attr.options[form.elements.attr.selectedIndex].text;
    plot = new uPlot({
      width: box.clientWidth || 600, height: 280,
      series: [{}, { label: label, stroke: "#2f5d2a", width: 2 }],
      axes: [{}, {}]
    }, data, box);
    box.dataset.points = String(data[0].length);
  }
  function load() {
    var attr = form.elements.attr.value, period = form.elements.period.value;
    var since = new Date(Date.now() - SPAN_MS[period]).toISOString();
    var aggregate = AGGREGATION[period];
    fetchJson(url(attr, since, aggregate))
      .then(function (body) {
        // a server without aggregation answers the raw values instead
        return body || !aggregate ? body : fetchJson(url(attr, since, null));
      })
      .then(function (body) { draw(body, attr); })
      .catch(empty);
  }
  form.addEventListener("change", load);
  load();
})();
