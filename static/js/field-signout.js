/* The portal's sign-in page. Reached by signing out (accounts.adapter: "?signed_out=1"), it deletes the field
   app's data on this device (IndexedDB "abe-field", static/js/field.js): the children downloaded and any change
   not yet sent go with the session. Reached because a session merely expired, it keeps them: the worker signs
   in again and the app sends what waits. */
(function () {
  "use strict";
  if (!("indexedDB" in window)) return;
  if (!new URLSearchParams(window.location.search).has("signed_out")) return;
  const request = indexedDB.deleteDatabase("abe-field");
  request.onsuccess = () => document.documentElement.setAttribute("data-field-store", "cleared");
  request.onerror = () => document.documentElement.setAttribute("data-field-store", "error");
})();
