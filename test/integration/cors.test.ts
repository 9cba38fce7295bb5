import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../helpers/server.js'

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
