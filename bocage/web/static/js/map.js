/* Territory map: equipment markers coloured by status, clustered, filtered in the page.
   No tiles unless the operator configured a URL template: communes are drawn from our data. */
(function () {
  "use strict";
  var box = document.getElementById("map");
  if (!box) { return; }
  var map = L.map(box, { preferCanvas: true, zoomControl: true, maxZoom: 19, minZoom: 5 }).setView([46.0, 5.3], 9);
  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution || "" }).addTo(map);
  }
  var cluster = L.markerClusterGroup({
    chunkedLoading: true, showCoverageOnHover: false,
    chunkProgress: function (done, total) {
      if (done === total) { box.dataset.ready = "true"; }
    }
  });
  var communeLayer = L.layerGroup();
  map.addLayer(cluster);
  map.addLayer(communeLayer);
  var form = document.getElementById("map-filters");
  var counter = document.getElementById("map-count");
  var rows = [], labels = {}, icons = {};
  var params = new URLSearchParams(window.location.search);
  if (params.get("commune")) { form.elements.commune.value = params.get("commune"); }
  if (params.get("epci")) { form.elements.epci.value = params.get("epci"); }

  function icon(status) {
    if (!icons[status]) {
      icons[status] = L.divIcon({ className: "mk mk-" + status, iconSize: [14, 14] });
    }
    return icons[status];
  }
  function checked(name) {
    var out = {};
    form.querySelectorAll("input[name=" + name + "]").forEach(function (el) {
      out[el.value] = el.checked;
    });
    return out;
  }
  function popup(row) {
    var div = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = row[5];
    var info = document.createElement("p");
    info.textContent = row[8] + " · " + (labels.status[row[4]] || row[4]);
    var link = document.createElement("a");
    link.href = "/ui/equipements/" + encodeURIComponent(row[0]);
    link.textContent = labels.open;
    div.appendChild(title); div.appendChild(info); div.appendChild(link);
    return div;
  }
  function draw() {
    var domains = checked("domain"), statuses = checked("status");
    var epci = form.elements.epci.value, commune = form.elements.commune.value;
    var markers = [], centres = {}, bounds = L.latLngBounds([]);
    rows.forEach(function (row) {
      if (domains[row[3]] === false || statuses[row[4]] === false) { return; }
      if (epci && row[6] !== epci) { return; }
      if (commune && row[7] !== commune) { return; }
      var m = L.marker([row[1], row[2]], { icon: icon(row[4]), title: row[5], keyboard: true });
      m.bindPopup(function () { return popup(row); });
      markers.push(m);
      bounds.extend([row[1], row[2]]);
      if (row[7]) {
        var c = centres[row[7]] || (centres[row[7]] = [0, 0, 0]);
        c[0] += row[1]; c[1] += row[2]; c[2] += 1;
      }
    });
    box.dataset.ready = "false";
    cluster.clearLayers();
    if (markers.length) {
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 });
    }
    cluster.addLayers(markers);
    communeLayer.clearLayers();
    Object.keys(centres).forEach(function (code) {
      var c = centres[code];
      L.marker([c[0] / c[2], c[1] / c[2]], {
        icon: L.divIcon({ className: "commune-label", html: "", iconSize: [0, 0] }),
        interactive: false, keyboard: false
      }).bindTooltip(code, { permanent: true, direction: "center", className: "commune-label" })
        .addTo(communeLayer);
    });
    counter.textContent = markers.length + " " + box.dataset.countLabel;
    box.dataset.shown = String(markers.length);
    if (!markers.length) { box.dataset.ready = "true"; }
  }
  form.addEventListener("change", draw);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  fetch(box.dataset.source, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) { rows = data.markers; labels = data.labels; draw(); });
})();
