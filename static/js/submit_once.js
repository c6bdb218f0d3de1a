/* A form marked data-submit-once (the upload's "Confirm" in targets/templates/targets/upload_detail.html) disables
   its submit button once sent and shows the button's data-busy-text, so that a second click does not ask for the
   same work again while the first runs. A file of its own: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        // After this event: the form's data is gathered first, then the button goes grey.
        window.setTimeout(function () {
          button.disabled = true;
          button.setAttribute("aria-disabled", "true");
          if (button.dataset.busyText) {
            button.textContent = button.dataset.busyText;
          }
        }, 0);
      });
    });
  });
})();
