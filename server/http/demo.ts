import fs from 'node:fs'
import path from 'node:path'
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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8'
}

/**
 * Cache policy. Vite puts content-hashed files under `/assets/`: they never change, so browsers may
 * keep them forever. Everything else (index.html, the service worker, the manifest, icons) keeps its
 * name across releases and must be revalidated, or a new release would never reach a browser.
 */
const cacheControl = (rel: string): string =>
  rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'

/**
 * Serves the built demo app from `demo/dist`: static files with the cache policy above, and the SPA
 * fallback (any other GET that asks for HTML and is not under an API prefix gets index.html, so deep
 * links such as `/d/<id>` survive a reload). API routes registered on the same instance win over this
 * wildcard because fastify matches static paths before wildcards.
 */
export const demoRoutes = (app: FastifyInstance, opts: DemoRoutesOptions = {}) => {
  const root = path.resolve(opts.distDir ?? DEFAULT_DEMO_DIST)
  const apiPrefixes = opts.apiPrefixes ?? DEFAULT_API_PREFIXES
  const isApi = (p: string) => apiPrefixes.some(prefix => p === prefix || p.startsWith(prefix + '/'))

  /** A regular file strictly inside the dist folder, or null. */
  const resolveFile = (urlPath: string): { abs: string, rel: string, size: number, mtimeMs: number } | null => {
    let decoded: string
    try { decoded = decodeURIComponent(urlPath) } catch { return null }
    if (decoded.includes('\0')) return null
    const abs = path.resolve(root, '.' + path.posix.normalize('/' + decoded))
    if (abs !== root && !abs.startsWith(root + path.sep)) return null
    try {
      const st = fs.statSync(abs)
      if (!st.isFile()) return null
      return { abs, rel: path.relative(root, abs).split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs }
    } catch { return null }
  }

  const send = (req: FastifyRequest, reply: FastifyReply, file: { abs: string, rel: string, size: number, mtimeMs: number }) => {
    const etag = `W/"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`
    reply
      .header('cache-control', cacheControl(file.rel))
      .header('etag', etag)
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[path.extname(file.abs).toLowerCase()] ?? 'application/octet-stream')
    if (file.rel === 'sw.js') reply.header('service-worker-allowed', '/')
    if (file.rel.endsWith('.html')) {
      reply.header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY')
    }
    if (req.headers['if-none-match'] === etag) return reply.code(304).send()
    if (req.method === 'HEAD') return reply.header('content-length', file.size).send()
    return reply.send(fs.createReadStream(file.abs))
  }

  const notBuilt = `<!doctype html><meta charset="utf-8"><title>Demo not built</title>
<body style="font:16px system-ui;margin:3rem;max-width:40rem"><h1>The demo app is not built</h1>
<p>Run <code>npm run build:demo</code> (or <code>npm start</code>, which builds it when it is missing or stale), then reload.</p></body>`

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const urlPath = req.url.split('?')[0] ?? '/'
    const wantsHtml = (req.headers.accept ?? '').includes('text/html')
    if (!isApi(urlPath)) {
      const file = urlPath === '/' ? null : resolveFile(urlPath)
      if (file) return send(req, reply, file)
      // Hashed assets and other files with an extension are never answered with the app shell.
      const looksLikeFile = /\.[a-z0-9]+$/i.test(urlPath)
      if (urlPath === '/' || (wantsHtml && !looksLikeFile)) {
        const index = resolveFile('/index.html')
        if (index) return send(req, reply, index)
        return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(notBuilt)
      }
    }
    return reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found', message: `no route for GET ${urlPath}` })
  }

  app.get('/', handler)
  app.get('/*', handler)
}
