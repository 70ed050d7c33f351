// The field app's service worker (VERSION and SHELL are stamped above by the server).
// It keeps one versioned copy of the app shell so the app opens offline. A new version waits
// until the page says the person is between visits, then takes over; API calls are never
// cached or intercepted: the app's own outbox decides what is sent and when.

const CACHE = `fieldapp-${VERSION}`;
const SCOPE = new URL("./", self.location).pathname;

self.addEventListener("install", (event) => {
  // Plain requests: the HTTP cache revalidates (ETag) instead of downloading everything twice.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
  // Take over at once: a page already open keeps running the code it loaded (it never
  // fetches code again), and it reloads into this version only between visits.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("fieldapp-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  // waitUntil: the worker must stay alive until skipWaiting has done its work.
  if (event.data && event.data.type === "activate") event.waitUntil(self.skipWaiting());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith(SCOPE) || url.pathname === `${SCOPE}sw.js`) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = request.mode === "navigate"
      ? await cache.match("./")
      : await cache.match(request, { ignoreSearch: true });
    return cached || fetch(request);
  })());
});
