/* The service worker (served as /sw.js by app/web/offline.py, which fills in VERSION and SHELL).
 *
 * Two caches:
 * - "doorstep-static-<version>": the app shell (css, js, icon, manifest), cached at install and
 *   served cache-first; a new version of any shell file makes a new worker and a new cache.
 * - "doorstep-pages": the collector's pages (lists, forms) and GET /api/v1/form, refreshed from
 *   the network whenever it answers and served from here when it does not.
 * Offline, a household's edit page that was never opened is served from a cached
 * new-household form of its unit (?unit_id=) or of any unit; static/pwa/form.js then fills the
 * form from IndexedDB. Nothing else is answered from the cache: other API calls, POSTs and
 * pages outside the collector's screens go to the network as they are.
 * Offline, static/pwa/links.js asks which links of a page the worker can answer ("answerable",
 * by the same rules as the fetches below) and greys the others with a word why.
 */
"use strict";

var VERSION = "__VERSION__";
var SHELL = ["__SHELL__"];
var STATIC_CACHE = "doorstep-static-" + VERSION;
var PAGES_CACHE = "doorstep-pages";
var SLOW_MS = 6000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("doorstep-static-") === 0 && n !== STATIC_CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

/** Put the pages the collector needs offline into the cache (asked by static/pwa/offline.js
 *  after a sync: the list, a new-household form per unit, /api/v1/form); `refresh` fetches them again
 *  (a new form version), otherwise only the missing ones are fetched. */
self.addEventListener("message", function (event) {
  var message = event.data || {};
  var port = event.ports[0];
  if (message.type === "answerable") {
    event.waitUntil(Promise.all(message.urls.map(function (href) {
      return keptPage(new URL(href, self.location.href)).then(Boolean, function () { return false; });
    })).then(function (answers) { if (port) port.postMessage({ answers: answers }); }));
    return;
  }
  if (message.type !== "warm") return;
  event.waitUntil(caches.open(PAGES_CACHE).then(function (cache) {
    return Promise.all(message.urls.map(function (url) {
      return (message.refresh ? Promise.resolve(null) : cache.match(url)).then(function (hit) {
        if (hit) return null;
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (response.ok && !response.redirected) return cache.put(url, response);
          return null;
        });
      });
    }));
  }).then(function () { if (port) port.postMessage({ ok: true }); },
          function () { if (port) port.postMessage({ ok: false }); }));
});

var EDIT = /^\/collect\/households\/[0-9a-f-]{36}(\/edit)?$/;

function isPage(url) {
  return url.pathname === "/" || url.pathname.indexOf("/collect/") === 0;
}

/** What the worker answers for a page of the app without a network: its kept copy; for a
 *  household's page never opened, a stand-in form (formShell); else null (the network's error). */
function keptPage(url) {
  if (url.origin !== self.location.origin || !isPage(url)) return Promise.resolve(null);
  return caches.open(PAGES_CACHE).then(function (cache) {
    return cache.match(url.href).then(function (hit) {
      return hit || (EDIT.test(url.pathname) ? formShell(url)(cache) : null);
    });
  });
}

/** Network first; a good answer is kept for next time. No network, or no answer within
 *  SLOW_MS (a weak signal): the kept copy, while the network's answer still refreshes the
 *  cache when it comes. Nothing kept either: the network's answer or its error. */
function networkFirst(request, kept) {
  var network = fetch(request).then(function (response) {
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      caches.open(PAGES_CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  });
  return new Promise(function (resolve, reject) {
    var done = false;
    function answer(response) { if (!done) { done = true; resolve(response); } }
    var timer = setTimeout(function () { kept().then(function (hit) { if (hit) answer(hit); }); }, SLOW_MS);
    network.then(function (response) { clearTimeout(timer); answer(response); }, function (error) {
      clearTimeout(timer);
      kept().then(function (hit) {
        if (hit) answer(hit);
        else if (!done) { done = true; reject(error); }
      });
    });
  });
}

/** An edit page never opened online: a new-household form of the same unit, else of any unit. */
function formShell(url) {
  return function (cache) {
    return cache.keys().then(function (requests) {
      var forms = requests.filter(function (r) {
        return new URL(r.url).pathname === "/collect/households/new" && new URL(r.url).searchParams.get("unit_id");
      });
      var unit = url.searchParams.get("unit_id");
      var same = forms.filter(function (r) { return new URL(r.url).searchParams.get("unit_id") === unit; });
      var pick = same[0] || forms[0];
      return pick ? cache.match(pick) : cache.match(new URL("/collect/", url).href);
    });
  };
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(request, { ignoreSearch: true }).then(function (hit) {
      return hit || fetch(request);
    }));
  } else if (url.pathname === "/api/v1/form") {
    event.respondWith(networkFirst(request, function () {
      return caches.open(PAGES_CACHE).then(function (cache) { return cache.match(request); });
    }));
  } else if (request.mode === "navigate" && isPage(url)) {
    event.respondWith(networkFirst(request, function () { return keptPage(url); }));
  }
});
