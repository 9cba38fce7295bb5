import { afterEach, describe, expect, it } from 'vitest'
import type { ServerConfig } from '../../server/config.js'
import { PASSWORD, TestDevice, sessionDocUrl } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, waitFor } from '../helpers/server.js'

/**
 * The client address the server records (a session's last IP) and rate-limits by, for HTTP requests
 * and socket upgrades: X-Forwarded-For entries are read from the right, as many as there are trusted
 * proxies; what a client writes to the left of them is ignored.
 */

const PUBLIC = 'https://sync.example.test'
type Server = Awaited<ReturnType<typeof startServer>>
let app: Server | undefined
const sockets: RawClient[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.ws.terminate()
  await app?.close()
  app = undefined
})

const start = async (overrides: Partial<ServerConfig>) => {
  app = await startServer({ insecureNoAuth: false, ...overrides })
  return app
}

/** A user with an observer device (no X-Forwarded-For) that reads the other devices' last IPs. */
const account = async (s: Server, origin = PUBLIC) => {
  const email = `ip-${Math.random().toString(36).slice(2)}@example.com`
  expect((await (await TestDevice.create(s.url, email)).register()).status).toBe(201)
  const login = async (name: string, headers: Record<string, string> = {}, password = PASSWORD) => {
    const d = await TestDevice.create(s.url, email, name)
    const body = { email, password, device: { name, platform: 'node' } }
    const res = await d.call('POST', '/auth/login', body, { dpop: await d.proof('POST', '/auth/login', { htu: origin + '/auth/login' }), ...headers })
    if (res.status === 200) d.tokens = res.body
    return { d, status: res.status }
  }
  const observer = (await login('observer')).d
  const lastIp = async (d: TestDevice) => (await observer.api('GET', '/sessions')).body.sessions.find((x: { id: string }) => x.id === d.tokens.sessionId).lastIp as string
  const socketFrom = async (d: TestDevice, forwardedFor: string) => {
    const ws = new RawClient(sessionDocUrl(s.wsUrl, d), { headers: { 'x-forwarded-for': forwardedFor } })
    sockets.push(ws)
    await ws.opened
  }
  return { login, lastIp, socketFrom }
}

describe('client address behind proxies', () => {
  it('one proxy (--public-url): a forged left-most X-Forwarded-For entry is ignored by the HTTP API and by socket upgrades', async () => {
    const s = await start({ publicUrl: PUBLIC })
    const { login, lastIp, socketFrom } = await account(s)
    const { d: phone } = await login('phone', { 'x-forwarded-for': '6.6.6.6, 192.0.2.1' })
    expect(await lastIp(phone)).toBe('192.0.2.1')
    await socketFrom(phone, '6.6.6.6, 203.0.113.9')
    await waitFor(async () => (await lastIp(phone)) === '203.0.113.9', 3000, 'the last IP from the socket upgrade')
  })

  it('the per-IP limit on failed logins holds however the client varies the entries left of its proxy’s', async () => {
    const s = await start({ publicUrl: PUBLIC, loginAttemptsPerIp: 3 })
    const { login } = await account(s)
    for (let i = 0; i < 3; i++) {
      expect((await login('guess', { 'x-forwarded-for': `10.9.9.${i}, 192.0.2.77` }, 'wrong password')).status).toBe(401)
    }
    expect((await login('guess', { 'x-forwarded-for': '10.9.9.99, 192.0.2.77' }, 'wrong password')).status).toBe(429)
    // Another client behind the same proxy is not limited.
    expect((await login('other', { 'x-forwarded-for': '192.0.2.78' }, 'wrong password')).status).toBe(401)
  })

  it('--trusted-proxies 2: the address two hops from the server, for HTTP and sockets alike', async () => {
    const s = await start({ publicUrl: PUBLIC, trustedProxies: '2' })
    const { login, lastIp, socketFrom } = await account(s)
    const { d: phone } = await login('phone', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.2' })
    expect(await lastIp(phone)).toBe('198.51.100.7')
    await socketFrom(phone, '6.6.6.6, 203.0.113.9, 10.0.0.2')
    await waitFor(async () => (await lastIp(phone)) === '203.0.113.9', 3000, 'the last IP from the socket upgrade')
  })

  it('--trusted-proxies as addresses: hops from trusted proxies are skipped, the first other one is the client', async () => {
    const s = await start({ publicUrl: PUBLIC, trustedProxies: 'loopback, 10.0.0.0/8' })
    const { login, lastIp, socketFrom } = await account(s)
    const { d: phone } = await login('phone', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.2.3' })
    expect(await lastIp(phone)).toBe('198.51.100.7')
    await socketFrom(phone, '6.6.6.6, 203.0.113.9, 10.0.0.2')
    await waitFor(async () => (await lastIp(phone)) === '203.0.113.9', 3000, 'the last IP from the socket upgrade')
  })

  it('no proxy (the default without --public-url): X-Forwarded-For is ignored', async () => {
    const s = await start({})
    const { login, lastIp, socketFrom } = await account(s, s.url)
    const { d: phone } = await login('phone', { 'x-forwarded-for': '192.0.2.1' })
    expect(await lastIp(phone)).toBe('127.0.0.1')
    await socketFrom(phone, '203.0.113.9')
    // The upgrade's authentication has run once the socket is open; nothing changed the address.
    expect(await lastIp(phone)).toBe('127.0.0.1')
  })
})
