/* The portal's sign-in page (reached after signing out, or when the session is gone): the field app's data
   on this device (IndexedDB "abe-field", static/js/field.js) goes with the session. */
(function () {
  "use strict";
  if (!("indexedDB" in window)) return;
  const request = indexedDB.deleteDatabase("abe-field");
  request.onsuccess = () => document.documentElement.setAttribute("data-field-store", "cleared");
  request.onerror = () => document.documentElement.setAttribute("data-field-store", "error");
})();
