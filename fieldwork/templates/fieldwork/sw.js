/* The field app's service worker (served by fieldwork.views.service_worker at /field/sw.js, scope /field/).
   Caches the shell and its assets under a versioned name when it installs; drops older caches when it
   activates. The shell page: the network first, the cache when offline. Assets: the cache first. The API
   (/field/api/) never goes through the cache: the device's data is in IndexedDB, not here. */
"use strict";
const CONFIG = {{ config|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CONFIG.cache_name)
      .then((cache) => cache.addAll(CONFIG.assets.map((url) => new Request(url, { credentials: "same-origin", cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith("abe-field-") && name !== CONFIG.cache_name).map((name) => caches.delete(name))
      ))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith(CONFIG.api_prefix)) return;
  if (request.mode === "navigate") {
    if (url.pathname !== CONFIG.shell_url) return;
    event.respondWith(
      fetch(request).then((response) => {
        // A fresh shell replaces the cached one; a redirect (signed out) is followed, never cached.
        if (response.ok && !response.redirected) {
          const copy = response.clone();
          caches.open(CONFIG.cache_name).then((cache) => cache.put(CONFIG.shell_url, copy));
        }
        return response;
      }).catch(() => caches.match(CONFIG.shell_url, { cacheName: CONFIG.cache_name, ignoreVary: true }).then(
        (cached) => cached || Response.error()
      ))
    );
    return;
  }
  if (CONFIG.assets.includes(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname, { cacheName: CONFIG.cache_name, ignoreVary: true }).then((cached) => cached || fetch(request))
    );
  }
});
