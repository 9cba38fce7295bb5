import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { demoRoutes } from '../../server/http/demo.js'
import { tempDir } from '../helpers/server.js'

/**
 * The demo app's static files (server/http/demo.ts) over a real socket: cache policy, SPA fallback,
 * API 404s and the "not built" page. A dist folder of our own stands in for demo/dist.
 */
const apps: FastifyInstance[] = []
afterEach(async () => { for (const app of apps.splice(0)) await app.close() })

const SW = 'self.addEventListener("fetch", () => {})'
const dist = async (): Promise<string> => {
  const dir = await tempDir('demo-dist-')
  fs.mkdirSync(path.join(dir, 'assets'))
  fs.mkdirSync(path.join(dir, 'icons'))
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>shell</title>')
  fs.writeFileSync(path.join(dir, 'sw.js'), SW)
  fs.writeFileSync(path.join(dir, 'manifest.webmanifest'), '{"name":"demo"}')
  fs.writeFileSync(path.join(dir, 'assets/index-abc123.js'), 'console.log(1)')
  fs.writeFileSync(path.join(dir, 'icons/icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  fs.writeFileSync(path.join(dir, '.build-hash'), 'secret-ish\n')
  return dir
}

const serve = async (distDir: string): Promise<string> => {
  const app = Fastify()
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/docs/:id', async () => ({ doc: true }))
  demoRoutes(app, { distDir })
  await app.listen({ host: '127.0.0.1', port: 0 })
  apps.push(app)
  const addr = app.server.address() as net.AddressInfo
  return `http://127.0.0.1:${addr.port}`
}

const html = { accept: 'text/html,application/xhtml+xml' }

/** A request with the path exactly as written (fetch would normalize `..`). */
const rawGet = (base: string, target: string): Promise<string> => new Promise((resolve, reject) => {
  const { port } = new URL(base)
  const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n`))
  let out = ''
  socket.on('data', d => { out += String(d) })
  socket.on('end', () => resolve(out))
  socket.on('error', reject)
})

describe('the demo app\'s static files', () => {
  it('serves the shell at / and for deep links, never for files or API paths', async () => {
    const base = await serve(await dist())
    for (const p of ['/', '/d/some-draft', '/settings/devices']) {
      const res = await fetch(base + p, { headers: html })
      expect(res.status, p).toBe(200)
      expect(await res.text()).toBe('<!doctype html><title>shell</title>')
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(res.headers.get('cache-control')).toBe('no-cache')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    }
    // A missing hashed asset, a path under an API prefix, and a non-HTML request: JSON 404s.
    for (const [p, headers] of [['/assets/index-gone.js', html], ['/docs/a/b', html], ['/api/nothing', html], ['/d/some-draft', { accept: 'application/json' }]] as const) {
      const res = await fetch(base + p, { headers })
      expect(res.status, p).toBe(404)
      expect(await res.json()).toMatchObject({ error: 'not_found' })
    }
    // API routes on the same instance win over the files.
    expect(await (await fetch(base + '/healthz')).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(base + '/docs/x')).json()).toEqual({ doc: true })
  })

  it('caches hashed assets for good, revalidates everything else, and serves the service worker as JavaScript', async () => {
    const base = await serve(await dist())
    const asset = await fetch(base + '/assets/index-abc123.js')
    expect(asset.status).toBe(200)
    expect(await asset.text()).toBe('console.log(1)')
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(asset.headers.get('content-type')).toMatch(/javascript/)
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff')

    const sw = await fetch(base + '/sw.js')
    expect(sw.status).toBe(200)
    expect(sw.headers.get('content-type')).toMatch(/javascript/)
    expect(sw.headers.get('cache-control')).toBe('no-cache')
    expect(sw.headers.get('service-worker-allowed')).toBe('/')

    for (const [p, type] of [['/manifest.webmanifest', /manifest\+json/], ['/icons/icon.svg', /^image\/svg\+xml/]] as const) {
      const res = await fetch(base + p)
      expect(res.status, p).toBe(200)
      expect(res.headers.get('content-type')).toMatch(type)
      expect(res.headers.get('cache-control')).toBe('no-cache')
    }

    // Revalidation: the validator it was given answers 304, and HEAD carries the headers without a body.
    const etag = sw.headers.get('etag')
    expect(etag).toBeTruthy()
    // (node:http: fetch marks a request with a validator of its own making `cache-control: no-cache`)
    const revalidated = await new Promise<number>((resolve, reject) => http.get(base + '/sw.js', { headers: { 'if-none-match': etag! } }, res => { res.resume(); resolve(res.statusCode!) }).on('error', reject))
    expect(revalidated).toBe(304)
    const head = await fetch(base + '/sw.js', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(SW.length))
    expect(await head.text()).toBe('')
  })

  it('serves nothing outside the dist folder, nor its dotfiles', async () => {
    const base = await serve(await dist())
    for (const target of ['/../package.json', '/assets/../../package.json', '/%2e%2e/package.json', '/assets/%2e%2e/%2e%2e/package.json', '/.build-hash']) {
      const res = await rawGet(base, target)
      expect(res, target).toMatch(/^HTTP\/1\.1 404 /)
      expect(res, target).not.toMatch(/secret-ish|"name":/)
    }
    for (const target of ['/%E0%A4%A', '/a%00b']) expect(await rawGet(base, target), target).toMatch(/^HTTP\/1\.1 400 /)
  })

  it('answers with a "not built" page while demo/dist is missing, and serves the app once it is built', async () => {
    const dir = path.join(await tempDir('demo-missing-'), 'dist')
    const base = await serve(dir)
    const res = await fetch(base + '/', { headers: html })
    expect(res.status).toBe(503)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.text()).toMatch(/npm run build:demo/)
    fs.cpSync(await dist(), dir, { recursive: true })
    const built = await fetch(base + '/d/x', { headers: html })
    expect(built.status).toBe(200)
    expect(await built.text()).toBe('<!doctype html><title>shell</title>')
  })
})
