/* The demo's service worker. `vite build` fills in VERSION and PRECACHE (see demo/vite.config.ts).
 *
 * App-shell model: install caches every file of the build; navigations are answered with the cached
 * index.html and hashed assets from the cache, so the app opens with no network at all. The API and the
 * sync socket are never cached: documents live in IndexedDB (y-indexeddb), not here.
 * A new build is a new VERSION: it installs beside the old one and waits; the page shows
 * "A new version is available" and tells it to take over (message `skip-waiting`).
 */
/// <reference lib="webworker" />
const VERSION = '__VERSION__'
const PRECACHE = [/* __PRECACHE__ */]
const CACHE = `app-shell-${VERSION}`
const API = ['/api', '/auth', '/sessions', '/docs', '/sync', '/healthz', '/metrics', '/me', '/mfa', '/account']
const isApi = (path) => API.some(p => path === p || path.startsWith(p + '/'))

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    // `cache: 'reload'` skips the HTTP cache so that a stale index.html never enters the shell.
    await cache.addAll(PRECACHE.map(url => new Request(url, { cache: 'reload' })))
    // The very first install has nothing to replace: take over at once.
    if (!self.registration.active) await self.skipWaiting()
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('app-shell-') && key !== CACHE) await caches.delete(key)
    }
    await self.clients.claim()
  })())
})

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting()
  if (event.data === 'version' && event.ports[0]) event.ports[0].postMessage(VERSION)
})

const fromCache = async (request) => {
  const cache = await caches.open(CACHE)
  return cache.match(request, { ignoreSearch: true })
}

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || isApi(url.pathname)) return

  if (request.mode === 'navigate') {
    // Every app route is the same index.html; the cached one matches the cached assets.
    event.respondWith((async () => {
      const cached = await fromCache('/index.html')
      if (cached) return cached
      return fetch(request)
    })())
    return
  }

  event.respondWith((async () => {
    const cached = await fromCache(request)
    if (cached) return cached
    const response = await fetch(request)
    // Hashed assets never change: keep any we did not precache (e.g. after a partial install).
    if (response.ok && url.pathname.startsWith('/assets/')) {
      const cache = await caches.open(CACHE)
      await cache.put(request, response.clone())
    }
    return response
  })())
})
