/* Federa member app service worker: offline shell, Web Push. Version {{ version }}. */
'use strict';
const CACHE = 'federa-app-{{ version }}';
const SHELL = {{ shell|tojson }};
const FILES = {{ files|tojson }};
const INBOX = {{ inbox|tojson }};

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(FILES.map((url) => new Request(url, {cache: 'reload'}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('federa-app-') && k !== CACHE)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // The API is never cached here: personal data stays in the app's own storage, cleared at logout.
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith(SHELL)) {
    return;
  }
  if (request.mode === 'navigate') {
    // Network first so a new version shows at once; the cached shell when offline.
    event.respondWith(fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(SHELL, copy));
      }
      return response;
    }).catch(() => caches.match(SHELL)));
    return;
  }
  event.respondWith(caches.match(request, {ignoreSearch: true}).then((hit) => hit || fetch(request)));
});

function safeUrl(raw) {
  try {
    const url = new URL(raw || INBOX, self.location.origin);
    return url.origin === self.location.origin ? url.href : new URL(INBOX, self.location.origin).href;
  } catch (e) {
    return new URL(INBOX, self.location.origin).href;
  }
}

self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {body: event.data ? event.data.text() : ''}; }
  const title = String(data.title || 'Federa');
  event.waitUntil(self.registration.showNotification(title, {
    body: String(data.body || ''),
    tag: data.tag || undefined,
    icon: FILES[FILES.length - 1],
    badge: FILES[FILES.length - 2],
    data: {url: safeUrl(data.url), id: data.id || null},
  }).then(() => self.clients.matchAll({type: 'window'}))
    .then((clients) => clients.forEach((client) => client.postMessage({type: 'push', id: data.id || null}))));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = safeUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(self.clients.matchAll({type: 'window', includeUncontrolled: true}).then((clients) => {
    for (const client of clients) {
      if (new URL(client.url).pathname.startsWith(SHELL) && 'focus' in client) {
        return client.navigate(target).then((c) => (c || client).focus());
      }
    }
    return self.clients.openWindow(target);
  }));
});
