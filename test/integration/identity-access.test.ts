import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../server/observe/logger.js'
import { encodeReauth, CloseCode, decodeMessage, MessageType } from '../../shared/protocol.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, waitFor } from '../helpers/server.js'
import { startIdentityServer, signedInDevice, secondDevice, TestDevice, UpgradeRefused, PASSWORD, sessionDocUrl } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>
const raw = (app: Server, doc: string, token: string) => new RawClient(`${app.wsUrl}/${doc}?token=${encodeURIComponent(token)}`)

describe('accounts, drafts and live revocation', () => {
  let app: Server
  const logLines: string[] = []
  beforeAll(async () => {
    const sink = new Writable({ write (chunk, _enc, cb) { logLines.push(String(chunk)); cb() } })
    // identity on, with a logger that captures the security events
    app = await startServer({ insecureNoAuth: false, loginAttemptsPerAccount: 5, logLevel: 'info' }, { logger: createLogger('info', sink) })
  })
  afterAll(() => app.close())

  it('registration validates input and the password policy', async () => {
    const d = await TestDevice.create(app.url, `reg-${Date.now()}@example.com`)
    expect((await d.register('short')).body.error).toBe('weak_password')
    expect((await d.register('1234567890')).body.error).toBe('weak_password')
    expect((await d.register('aaaaaaaaaaaa')).body.error).toBe('weak_password')
    expect((await d.call('POST', '/auth/register', { email: 'not-an-email', password: PASSWORD })).body.error).toBe('invalid_email')
    expect((await d.call('POST', '/auth/register', { email: d.email, password: PASSWORD, admin: true })).status).toBe(400)
    expect((await d.call('POST', '/auth/register', { email: d.email, password: 12345678901 })).status).toBe(400)
    expect((await d.call('POST', '/auth/register', 'nonsense')).status).toBe(400)
    expect((await d.register()).status).toBe(201)
    const dup = await TestDevice.create(app.url, d.email.toUpperCase())
    expect((await dup.register()).status).toBe(409)
  })

  it('wrong email and wrong password get the same answer', async () => {
    const d = await signedInDevice(app.url)
    const wrongPw = await d.login('not the password at all')
    const ghost = await TestDevice.create(app.url, `nobody-${Date.now()}@example.com`)
    const wrongEmail = await ghost.login()
    expect(wrongPw.status).toBe(401)
    expect(wrongEmail.status).toBe(401)
    expect(wrongEmail.body).toEqual(wrongPw.body)
  })

  it('brute-force login is rate limited with 429 and Retry-After, even with the right password then', async () => {
    const d = await signedInDevice(app.url)
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await d.login(`guess number ${i} xx`)).status)
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401])
    const limited = await d.login()
    expect(limited.status).toBe(429)
    expect(limited.body.error).toBe('rate_limited')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // The budget is checked before the DPoP proof: a throttled client costs no signature check.
    const noProof = await d.call('POST', '/auth/login', { email: d.email, password: PASSWORD, device: { name: 'x', platform: 'node' } })
    expect(noProof.status).toBe(429)
  })

  it('the session dashboard lists devices with online counts; remote logout closes the other device’s socket within 1 s', async () => {
    const laptop = await signedInDevice(app.url, undefined, 'laptop')
    const phone = await secondDevice(laptop, 'phone')
    const ws = raw(app, phone.tokens.sessionDoc, phone.tokens.accessToken)
    await ws.opened
    const list = await laptop.api('GET', '/sessions')
    expect(list.body.sessions).toHaveLength(2)
    const row = list.body.sessions.find((s: { id: string }) => s.id === phone.tokens.sessionId)
    expect(row).toMatchObject({ deviceName: 'phone', platform: 'node', current: false, online: 1, lastIp: '127.0.0.1' })
    expect(list.body.sessions.find((s: { current: boolean }) => s.current).deviceName).toBe('laptop')
    const started = Date.now()
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    expect(await ws.closed).toBe(CloseCode.sessionEnded)
    expect(Date.now() - started).toBeLessThan(1000)
    expect((await phone.refresh()).body.error).toBe('session_ended')
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(404)
    // Someone else's session id is not found, not revocable.
    const stranger = await signedInDevice(app.url)
    expect((await stranger.api('DELETE', `/sessions/${laptop.tokens.sessionId}`)).status).toBe(404)
  })

  it('drafts: owner and editors write, viewers read only (refused server-side, never persisted or broadcast)', async () => {
    const owner = await signedInDevice(app.url)
    const editor = await signedInDevice(app.url)
    const viewer = await signedInDevice(app.url)
    const outsider = await signedInDevice(app.url)
    const created = await owner.api('POST', '/docs', { title: 'Plan' })
    expect(created.status).toBe(201)
    const { id, docName } = created.body
    expect((await owner.api('POST', `/docs/${id}/members`, { email: editor.email, role: 'editor' })).status).toBe(200)
    expect((await owner.api('POST', `/docs/${id}/members`, { email: viewer.email, role: 'viewer' })).status).toBe(200)
    expect((await owner.api('POST', `/docs/${id}/members`, { email: 'nobody@example.com', role: 'viewer' })).status).toBe(404)
    expect((await viewer.api('POST', `/docs/${id}/members`, { email: outsider.email, role: 'editor' })).status).toBe(403)
    expect((await viewer.api('GET', '/docs')).body.docs).toEqual([expect.objectContaining({ id, role: 'viewer', title: 'Plan' })])
    expect((await outsider.api('GET', `/docs/${id}`)).status).toBe(404)
    await expect(outsider.socket(docName)).rejects.toEqual(new UpgradeRefused(403))

    const o = raw(app, docName, owner.tokens.accessToken)
    const e = raw(app, docName, editor.tokens.accessToken)
    const v = raw(app, docName, viewer.tokens.accessToken)
    await Promise.all([o.opened, e.opened, v.opened])
    await waitFor(() => o.synced && e.synced && v.synced)
    o.doc.getText('t').insert(0, 'owner ')
    e.doc.getText('t').insert(0, 'editor ')
    await waitFor(() => v.text().includes('owner') && v.text().includes('editor'), 3000, 'viewer sees writes')
    // The viewer edits locally; the server drops the update: nobody else ever sees it.
    v.doc.getText('t').insert(0, 'VIEWER ')
    // The server has handled the viewer's update once it answers the viewer's next message; had it
    // broadcast the update, the owner's own round trip afterwards brings it in.
    await v.roundTrip()
    await o.roundTrip()
    await e.roundTrip()
    expect(o.text()).not.toContain('VIEWER')
    expect(e.text()).not.toContain('VIEWER')
    await Promise.all([o.close(), e.close(), v.close()])
    await app.rooms.unloadAll()
    const fresh = raw(app, docName, owner.tokens.accessToken)
    await waitFor(() => fresh.synced)
    expect(fresh.text()).toContain('owner')
    expect(fresh.text()).toContain('editor')
    expect(fresh.text()).not.toContain('VIEWER')
    await fresh.close()
  })

  it('removing a member closes their sockets on that draft (4409) and refuses them afterwards', async () => {
    const owner = await signedInDevice(app.url)
    const member = await signedInDevice(app.url)
    const { id, docName } = (await owner.api('POST', '/docs', { title: 'Shared' })).body
    await owner.api('POST', `/docs/${id}/members`, { email: member.email, role: 'editor' })
    const ws = raw(app, docName, member.tokens.accessToken)
    await ws.opened
    expect((await owner.api('DELETE', `/docs/${id}/members/${member.tokens.userId}`)).status).toBe(204)
    expect(await ws.closed).toBe(CloseCode.accessChanged)
    await expect(member.socket(docName)).rejects.toEqual(new UpgradeRefused(403))
    expect((await member.api('GET', '/docs')).body.docs).toEqual([])
    // Rename (owner) and delete (owner only).
    expect((await owner.api('PATCH', `/docs/${id}`, { title: 'Renamed' })).body.title).toBe('Renamed')
    expect((await member.api('DELETE', `/docs/${id}`)).status).toBe(404)
    expect((await owner.api('DELETE', `/docs/${id}`)).status).toBe(204)
    expect((await owner.api('GET', '/docs')).body.docs).toEqual([])
  })

  it('deleting a draft closes its sockets (4409) and deletes its content from storage', async () => {
    const owner = await signedInDevice(app.url)
    const { id, docName } = (await owner.api('POST', '/docs', { title: 'Doomed' })).body
    const ws = raw(app, docName, owner.tokens.accessToken)
    await ws.opened
    await waitFor(() => ws.synced)
    ws.doc.getText('t').insert(0, 'secret plans')
    await app.rooms.unloadAll() // persisted: snapshot written
    const keys = async () => (await app.db!.keys({ gte: '!docs!', lt: '!docs!~' }).all()).filter(k => k.includes(docName))
    const ws2 = raw(app, docName, owner.tokens.accessToken)
    await waitFor(() => ws2.synced)
    ws2.doc.getText('t').insert(0, 'more ')
    await waitFor(async () => (await keys()).length > 0, undefined, 'the edit persisted')
    expect((await owner.api('DELETE', `/docs/${id}`)).status).toBe(204)
    expect(await ws2.closed).toBe(CloseCode.accessChanged)
    expect(await keys()).toEqual([])
    await expect(owner.socket(docName)).rejects.toEqual(new UpgradeRefused(403))
  })

  it('the stock y-websocket WebsocketProvider connects with `params: { token }` and syncs the session document', async () => {
    const { WebsocketProvider } = await import('y-websocket')
    const WebSocket = (await import('ws')).default
    const Y = await import('yjs')
    const d = await signedInDevice(app.url)
    const other = await secondDevice(d)
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const opts = { WebSocketPolyfill: WebSocket as never, disableBc: true }
    const a = new WebsocketProvider(app.wsUrl, d.tokens.sessionDoc, docA, { ...opts, params: { token: d.tokens.accessToken } })
    const b = new WebsocketProvider(app.wsUrl, other.tokens.sessionDoc, docB, { ...opts, params: { token: other.tokens.accessToken } })
    try {
      await waitFor(() => a.synced && b.synced, 5000, 'stock providers synced')
      docA.getMap('prefs').set('theme', 'dark')
      await waitFor(() => docB.getMap('prefs').get('theme') === 'dark', 3000, 'edit arrives')
    } finally {
      a.destroy(); b.destroy()
    }
  })

  it('security events are logged with ids and IPs, and no token, code or password ever appears in the logs', async () => {
    const events = logLines.map(l => JSON.parse(l)).filter(e => e.event === 'security').map(e => e.kind)
    for (const kind of ['register', 'login_ok', 'login_failed', 'new_device', 'session_revoked', 'rate_limited']) expect(events).toContain(kind)
    const all = logLines.join('')
    expect(all).not.toContain(PASSWORD)
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/) // no JWT
    expect(all).not.toContain('guess number')
    // …and counted for dashboards and alerts
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    expect(metrics).toMatch(/auth_security_events_total\{kind="login_failed"\} [1-9]/)
    expect(metrics).toMatch(/auth_security_events_total\{kind="rate_limited"\} [1-9]/)
  })
})

describe('expiry: access tokens (4401 unless re-authenticated in-band) and device sessions (4403)', () => {
  let app: Server
  beforeAll(async () => { app = await startIdentityServer({ accessTokenTtlMs: 3000 }) })
  afterAll(() => app.close())

  it('a socket whose access token expires is closed with 4401', async () => {
    const d = await signedInDevice(app.url)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    expect(await ws.closed).toBe(CloseCode.tokenExpired)
  })

  it('authExpiry goes only to clients that ask (?ext=1) or send a reauth; stock clients get no unknown message type', async () => {
    const d = await signedInDevice(app.url)
    const types = (c: RawClient) => c.received.map(f => decodeMessage(f).type)
    const stock = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    const asking = new RawClient(`${sessionDocUrl(app.wsUrl, d)}&ext=1`)
    await waitFor(() => stock.synced && asking.synced)
    await waitFor(() => types(asking).includes(MessageType.authExpiry), 2000, 'authExpiry for ?ext=1')
    const expiry = asking.received.map(f => decodeMessage(f)).find(m => m.type === MessageType.authExpiry)
    expect(expiry).toMatchObject({ expiresAt: d.tokens.accessTokenExpiresAt })
    expect(types(stock).every(t => t < 100)).toBe(true)
    // A client that sends a reauth evidently speaks the extensions: it gets the new expiry.
    stock.sendRaw(encodeReauth(d.tokens.accessToken))
    await waitFor(() => types(stock).includes(MessageType.authExpiry), 2000, 'authExpiry after reauth')
    stock.ws.terminate()
    asking.ws.terminate()
  })

  it('in-band re-authentication with a refreshed token keeps the socket open past the first expiry', async () => {
    const d = await signedInDevice(app.url)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    const firstExpiry = d.tokens.accessTokenExpiresAt
    // JWT times are whole seconds: wait for a token that really expires later.
    await new Promise(resolve => setTimeout(resolve, 1100))
    await d.refresh()
    expect(d.tokens.accessTokenExpiresAt).toBeGreaterThan(firstExpiry)
    ws.sendRaw(encodeReauth(d.tokens.accessToken))
    // Real time is the subject: past the first token's expiry (the server's timer for it fires first,
    // it runs in this process); a close it sent would arrive before the round trip's reply.
    await new Promise(resolve => setTimeout(resolve, firstExpiry - Date.now() + 400))
    await ws.roundTrip()
    expect(ws.closeCode).toBeNull()
    // A token of another session is refused in-band.
    const other = await secondDevice(d)
    ws.sendRaw(encodeReauth(other.tokens.accessToken))
    expect(await ws.closed).not.toBe(1000)
  })

})

describe('expiry: device sessions end at their idle deadline, with live sockets closed 4403', () => {
  let app: Server
  const idleMs = 3000
  beforeAll(async () => { app = await startIdentityServer({ idleTimeoutMs: idleMs }) })
  afterAll(() => app.close())

  it('an idle device session ends: its socket closes with 4403 within a second of the deadline, and it leaves the dashboard', async () => {
    const d = await signedInDevice(app.url)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    const opened = Date.now()
    expect(await ws.closed).toBe(CloseCode.sessionEnded)
    expect(Date.now() - opened).toBeLessThan(idleMs + 5000) // a generous margin: the sweeper's timer on a loaded machine
    expect((await d.refresh()).body.error).toBe('session_ended')
    const again = await signedInDevice(app.url, d.email.replace('@', '+2@'))
    expect((await again.api('GET', '/sessions')).body.sessions).toHaveLength(1)
  })

  it('a session active before its deadline lives on: the sweeper re-reads it when due and waits for the moved deadline', async () => {
    const d = await signedInDevice(app.url)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    await new Promise(resolve => setTimeout(resolve, idleMs / 3)) // real time is the subject: use well before the deadline
    expect((await d.api('POST', '/me/activity')).status).toBe(200) // activity moves the idle deadline idleMs past now
    const refreshed = Date.now()
    expect(await ws.closed).toBe(CloseCode.sessionEnded)
    expect(Date.now() - refreshed).toBeGreaterThanOrEqual(idleMs - 50)
    expect(Date.now() - refreshed).toBeLessThan(idleMs + 5000)
  })

  it('the sweeper holds nothing for a session once its last socket closes', async () => {
    const d = await signedInDevice(app.url)
    const before = app.identity!.sweeper.size
    const a = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    const b = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await Promise.all([a.opened, b.opened])
    expect(app.identity!.sweeper.size).toBe(before + 1)
    a.close()
    await a.closed
    await waitFor(() => app.sessions.count(d.tokens.sessionId) === 1)
    expect(app.identity!.sweeper.size).toBe(before + 1)
    b.close()
    await waitFor(() => app.identity!.sweeper.size === before)
  })
})

describe('behind a proxy (--public-url)', () => {
  const PUBLIC = 'https://sync.example.test'
  let app: Server
  beforeAll(async () => { app = await startServer({ insecureNoAuth: false, publicUrl: PUBLIC }) })
  afterAll(() => app.close())

  it('a socket records the client address its proxy appended to X-Forwarded-For, as the HTTP API does, not the proxy’s nor a forged one', async () => {
    const email = `proxy-${Date.now()}@example.com`
    const login = async (name: string, ip: string) => {
      const d = await TestDevice.create(app.url, email, name)
      const body = { email, password: PASSWORD, device: { name, platform: 'node' } }
      const res = await d.call('POST', '/auth/login', body, { dpop: await d.proof('POST', '/auth/login', { htu: PUBLIC + '/auth/login' }), 'x-forwarded-for': ip })
      expect(res.status).toBe(200)
      d.tokens = res.body
      return d
    }
    expect((await (await TestDevice.create(app.url, email)).register()).status).toBe(201)
    const laptop = await login('laptop', '192.0.2.1')
    const phone = await login('phone', '198.51.100.7')
    // Read by the laptop: its own requests move only its own row.
    const phoneIp = async () => (await laptop.api('GET', '/sessions')).body.sessions.find((s: { id: string }) => s.id === phone.tokens.sessionId).lastIp
    expect(await phoneIp()).toBe('198.51.100.7')
    const ws = new RawClient(sessionDocUrl(app.wsUrl, phone), { headers: { 'x-forwarded-for': '10.0.0.2, 203.0.113.9' } })
    await ws.opened
    await waitFor(async () => (await phoneIp()) === '203.0.113.9', 3000, 'the phone session’s lastIp from its socket upgrade')
    ws.ws.close()
  })
})
