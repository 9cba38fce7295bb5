import fs from 'node:fs'
import path from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** The repository root: the nearest folder with package.json (the server also runs compiled from build/). */
const projectRoot = (dir: string): string => {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d
    if (path.dirname(d) === d) return path.resolve(import.meta.dirname, '../..')
  }
}

/** Where `npm run build:demo` writes the demo app. */
export const DEFAULT_DEMO_DIST = path.join(projectRoot(import.meta.dirname), 'demo/dist')

export interface DemoRoutesOptions {
  /** The built demo (`demo/dist`). A missing folder serves a short "not built" page, not an error. */
  distDir?: string
  /**
   * Path prefixes that belong to the API: an unknown path under one of them is a JSON 404, never the
   * app's index.html (so a typo in an API call does not come back as HTML).
   */
  apiPrefixes?: string[]
}

const DEFAULT_API_PREFIXES = ['/api', '/auth', '/sessions', '/docs', '/sync', '/healthz', '/metrics', '/me', '/mfa', '/account']

/**
 * Cache policy. Vite puts content-hashed files under `/assets/`: they never change, so browsers may
 * keep them forever. Everything else (index.html, the service worker, the manifest, icons) keeps its
 * name across releases and must be revalidated, or a new release would never reach a browser.
 */
const cacheControl = (rel: string): string =>
  rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Demo not built</title>
<body style="font:16px system-ui;margin:3rem;max-width:40rem"><h1>The demo app is not built</h1>
<p>Run <code>npm run build:demo</code> (or <code>npm start</code>, which builds it when it is missing or stale), then reload.</p></body>`

/**
 * Serves the built demo app from `demo/dist` with @fastify/static (a GET/HEAD wildcard route; API
 * routes on the same instance win because fastify matches static paths first), with the cache policy
 * above. Whatever matches no route and no file reaches the not-found handler set here: a GET that asks
 * for HTML, outside the API prefixes and without a file extension, gets index.html (so deep links
 * such as `/d/<id>` survive a reload); everything else gets a JSON 404.
 */
export const demoRoutes = (app: FastifyInstance, opts: DemoRoutesOptions = {}) => {
  const root = path.resolve(opts.distDir ?? DEFAULT_DEMO_DIST)
  const apiPrefixes = opts.apiPrefixes ?? DEFAULT_API_PREFIXES
  const isApi = (p: string) => apiPrefixes.some(prefix => p === prefix || p.startsWith(prefix + '/'))

  void app.register(fastifyStatic, {
    root,
    // Set per file below; @fastify/send's default would override it.
    cacheControl: false,
    // demo/dist/.build-hash and the like are build bookkeeping, not part of the app.
    dotfiles: 'ignore',
    allowedPath: pathname => !isApi(pathname) && !pathname.split('/').includes('..'),
    setHeaders: (res, file) => {
      const rel = path.relative(root, file).split(path.sep).join('/')
      res.setHeader('cache-control', cacheControl(rel))
      res.setHeader('x-content-type-options', 'nosniff')
      if (rel === 'sw.js') res.setHeader('service-worker-allowed', '/')
      if (rel.endsWith('.html')) {
        res.setHeader('referrer-policy', 'no-referrer')
        res.setHeader('x-frame-options', 'DENY')
      }
    }
  })

  const index = path.join(root, 'index.html')
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const urlPath = req.url.split('?')[0] ?? '/'
    const wantsHtml = (req.headers.accept ?? '').includes('text/html')
    // Hashed assets and other files with an extension are never answered with the app shell.
    const appPath = (req.method === 'GET' || req.method === 'HEAD') && !isApi(urlPath) &&
      (urlPath === '/' || (wantsHtml && !/\.[a-z0-9]+$/i.test(urlPath)))
    if (appPath) {
      if (!fs.existsSync(index)) return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT)
      return reply.code(200).sendFile('index.html')
    }
    return reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found', message: `no route for ${req.method} ${urlPath}` })
  })
}
