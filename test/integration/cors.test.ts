import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'
import { TcpWs } from '../helpers/tcp-ws.js'

type Server = Awaited<ReturnType<typeof startServer>>

describe('CORS for browser apps on other origins', () => {
  let app: Server
  let sameOriginOnly: Server
  beforeAll(async () => {
    app = await startServer({ insecureNoAuth: false, corsOrigins: 'https://app.example.com, https://m.example.com' })
    sameOriginOnly = await startServer({ insecureNoAuth: false })
  })
  afterAll(async () => { await app.close(); await sameOriginOnly.close() })

  const preflight = (s: Server, origin: string) => fetch(`${s.url}/auth/refresh`, {
    method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,dpop' }
  })

  it('a listed origin may call the API with the DPoP and Authorization headers', async () => {
    const res = await preflight(app, 'https://app.example.com')
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    expect(res.headers.get('access-control-allow-headers')).toMatch(/dpop/)
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    const get = await fetch(`${app.url}/.well-known/jwks.json`, { headers: { origin: 'https://m.example.com' } })
    expect(get.headers.get('access-control-allow-origin')).toBe('https://m.example.com')
  })

  it('other origins, and every origin by default, get no CORS grant', async () => {
    const res = await fetch(`${app.url}/.well-known/jwks.json`, { headers: { origin: 'https://evil.example' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const def = await fetch(`${sameOriginOnly.url}/.well-known/jwks.json`, { headers: { origin: 'https://app.example.com' } })
    expect(def.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('sync sockets from browser pages: the same list of origins', () => {
  let app: Server
  let behindProxy: Server
  const opened: Array<{ close (): void }> = []
  beforeAll(async () => {
    // No authentication: the origin check alone decides.
    app = await startServer({ corsOrigins: 'https://app.example.com, https://m.example.com' })
    behindProxy = await startServer({ publicUrl: 'https://sync.example.test' })
  })
  afterEach(() => { for (const c of opened.splice(0)) c.close() })
  afterAll(async () => { await app.close(); await behindProxy.close() })

  /** Opens `/sync/doc` with this Origin header (none if undefined); resolves once the socket is open, or with the HTTP refusal. */
  const open = async (s: Server, origin: string | undefined): Promise<{ status: number, body?: unknown }> => {
    const c = await TcpWs.open(s.url, '/sync/doc', origin === undefined ? {} : { Origin: origin })
    opened.push({ close: () => c.socket.destroy() })
    await c.head()
    if (c.status === 101) return { status: 101 }
    await c.closed
    return { status: c.status, body: JSON.parse(c.body) }
  }

  it('accepts a socket without an Origin (not a browser), from a listed origin, and from the server’s own', async () => {
    expect((await open(app, undefined)).status).toBe(101)
    expect((await open(app, 'https://app.example.com')).status).toBe(101)
    expect((await open(app, 'https://m.example.com')).status).toBe(101)
    const own = new URL(app.url)
    expect((await open(app, `http://${own.host}`)).status).toBe(101)
    expect((await open(behindProxy, 'https://sync.example.test')).status).toBe(101)
    // A y-websocket client sending the Origin of a listed page syncs.
    const client = new RawClient(`${app.wsUrl}/doc`, { origin: 'https://app.example.com' })
    opened.push({ close: () => client.ws.terminate() })
    await client.opened
  })

  it('refuses any other origin with 403 origin_not_allowed before a socket opens', async () => {
    const refused = { status: 403, body: { error: 'origin_not_allowed', message: expect.stringMatching(/origin/) } }
    expect(await open(app, 'https://evil.example')).toEqual(refused)
    expect(await open(app, 'https://app.example.com.evil.example')).toEqual(refused)
    expect(await open(app, 'null')).toEqual(refused)
    const own = new URL(app.url)
    expect(await open(app, `http://${own.hostname}:${Number(own.port) + 1}`)).toEqual(refused)
    // Behind a proxy the server's own origin is --public-url, not whatever the Host header says.
    expect(await open(behindProxy, `http://${new URL(behindProxy.url).host}`)).toEqual(refused)
    expect(await open(behindProxy, 'https://app.example.com')).toEqual(refused)
  })
})
