/* The progress bar of an upload being checked or applied (targets/templates/targets/upload_detail.html).
   Polls uploads:progress (JSON) and reloads the page when the work is done, so the report shows.
   A file of its own: the Content-Security-Policy allows scripts from 'self' only, never inline. */
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var status = box.getAttribute("data-status");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var delay = 1500;

  function show(percent) {
    if (bar) {
      bar.value = percent;
      bar.textContent = percent + "%";
    }
    if (text) {
      text.textContent = percent + "%";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data.percent);
        if (data.done || data.status !== status) {
          window.location.reload();
          return;
        }
        delay = 1500;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // The server is busy or the network hiccups: try again, less often.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, 1000);
})();
