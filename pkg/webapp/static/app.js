// jit web app: the request page's live part. Progressive: without this
// script the page works with a reload. No inline script anywhere (CSP).
"use strict";
(function () {
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var url = live.getAttribute("data-events");
  if (!url || url.indexOf("/web/requests/") !== 0) { return; }
  // The server renders the live part with the page's own template, so
  // everything in it is escaped there.
  var es = new EventSource(url);
  es.addEventListener("request", function (ev) {
    live.innerHTML = ev.data;
    live.setAttribute("data-version", ev.lastEventId);
    tick();
  });
  // Count the time left down between changes.
  function tick() {
    var el = live.querySelector("[data-ends]");
    if (!el) { return; }
    var left = Math.max(0, Number(el.getAttribute("data-ends")) - Date.now() / 1000);
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = Math.floor(left % 60);
    el.textContent = (h ? h + "h" : "") + (h || m ? m + "m" : "") + s + "s";
  }
  setInterval(tick, 1000);
})();
