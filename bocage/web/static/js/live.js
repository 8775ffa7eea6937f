/* Live parts of a page ([data-live], polled by htmx): no request while the tab is
   hidden; back on the tab, every live part refreshes at once. */
(function () {
  "use strict";
  if (!window.htmx) { return; }
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (document.hidden && source && source.hasAttribute("data-live")) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { return; }
    document.querySelectorAll("[data-live]").forEach(function (part) {
      window.htmx.trigger(part, "live-now");
    });
  });
  // a live part that was swapped in marks the page, for whoever waits on it (tests, AT)
  document.body.addEventListener("htmx:afterSwap", function () {
    document.body.dataset.liveAt = String(Date.now());
  });
})();
