import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { signedInDevice, sessionDocUrl } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, waitFor } from '../helpers/server.js'
import { WEBHOOK_HEADERS, webhookSignature } from '../../server/hooks/webhooks.js'
import type { DocumentChangeEvent, SecurityHookEvent, ServerHooks, SessionEndEvent, SessionStartEvent } from '../../server/hooks/hooks.js'
import type { ServerConfig } from '../../server/config.js'

const SECRET = 'whsec-0123456789abcdef'
const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

interface Delivery { headers: http.IncomingHttpHeaders, body: string, json: { id: string, type: string, at: number, data: Record<string, unknown> } }

/** A real HTTP receiver on 127.0.0.1; `answer` picks the status of each request (by its order). */
const receiver = async (answer: (n: number, d: Delivery) => number = () => 204) => {
  const got: Delivery[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', c => { body += c })
    req.on('end', () => {
      const d = { headers: req.headers, body, json: JSON.parse(body) }
      got.push(d)
      res.statusCode = answer(got.length, d)
      res.end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise(resolve => server.close(resolve)))
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }
}

const start = async (overrides: Partial<ServerConfig>, hooks?: ServerHooks) => {
  const s = await startServer({ insecureNoAuth: false, ...overrides }, { hooks })
  cleanups.push(() => s.close())
  return s
}

/** A signed-in device with a socket on its session document, past the opening exchange: each edit it makes next is one update. */
const editingDevice = async (s: Awaited<ReturnType<typeof start>>) => {
  const d = await signedInDevice(s.url)
  const c = new RawClient(sessionDocUrl(s.wsUrl, d))
  cleanups.push(() => c.ws.terminate())
  await c.opened
  await c.roundTrip()
  return { d, c }
}

const verified = (d: Delivery) => {
  const ts = String(d.headers[WEBHOOK_HEADERS.timestamp])
  return d.headers[WEBHOOK_HEADERS.signature] === webhookSignature(SECRET, ts, d.body) && Math.abs(Date.now() / 1000 - Number(ts)) < 300
}

describe('server-side hooks and webhooks', () => {
  it('onDocumentChange fires once per burst of edits, off the edit path, and a throwing hook changes nothing', async () => {
    const changes: DocumentChangeEvent[] = []
    const s = await start({ hookDebounceMs: 300 }, {
      onDocumentChange: e => { changes.push(e); throw new Error('embedder bug') }
    })
    const { d, c } = await editingDevice(s)
    const prefs = c.doc.getMap('preferences')
    prefs.set('a', 1)
    prefs.set('b', 2)
    prefs.set('c', 3)
    await c.roundTrip()
    await waitFor(() => changes.length > 0, undefined, 'the change hook')
    expect(changes[0]).toMatchObject({ documentName: d.tokens.sessionDoc, updates: 3 })
    prefs.set('d', 4)
    await waitFor(() => changes.length > 1, undefined, 'the second change hook')
    expect(changes[1]).toMatchObject({ documentName: d.tokens.sessionDoc, updates: 1 })
    await c.roundTrip()
    expect(c.ws.readyState).toBe(c.ws.OPEN)
  })

  it('webhooks are signed with HMAC-SHA256 over timestamp and body, and retried after 500s with the same id', async () => {
    // The first two deliveries of the document change fail with 500, the third is accepted.
    let failures = 0
    const r = await receiver((_n, d) => d.json.type === 'document.changed' && failures < 2 ? (failures++, 500) : 204)
    const s = await start({ webhookUrl: r.url, webhookSecret: SECRET, webhookRetryMs: 20, hookDebounceMs: 50 })
    const { d, c } = await editingDevice(s)
    c.doc.getMap('preferences').set('theme', 'dark')
    await c.roundTrip()
    await waitFor(() => r.got.filter(g => g.json.type === 'document.changed').length >= 3, undefined, 'three deliveries')
    const changed = r.got.filter(g => g.json.type === 'document.changed')
    expect(changed).toHaveLength(3)
    expect(new Set(changed.map(g => g.json.id)).size).toBe(1)
    expect(changed.every(verified)).toBe(true)
    expect(changed[0]!.json.data).toMatchObject({ documentName: d.tokens.sessionDoc, updates: 1 })
    // A forged signature is told apart.
    expect(verified({ ...changed[0]!, body: changed[0]!.body.replace('"updates":1', '"updates":2') })).toBe(false)
  })

  it('gives up after a bounded number of attempts and never blocks edits while the receiver is down', async () => {
    const r = await receiver(() => 503)
    const s = await start({ webhookUrl: r.url, webhookSecret: SECRET, webhookRetryMs: 10, hookDebounceMs: 20 })
    const { c } = await editingDevice(s)
    c.doc.getMap('preferences').set('theme', 'dark')
    await c.roundTrip()
    await waitFor(() => r.got.filter(g => g.json.type === 'document.changed').length >= 6, undefined, 'six attempts')
    // Edits keep flowing meanwhile.
    for (let i = 0; i < 5; i++) { c.doc.getMap('preferences').set(`k${i}`, i); await c.roundTrip() }
    const firstId = r.got.find(g => g.json.type === 'document.changed')!.json.id
    // A later barrier: the next burst's deliveries arrive, and the first one's attempts stopped at 6.
    await waitFor(() => r.got.some(g => g.json.type === 'document.changed' && g.json.id !== firstId), undefined, 'a later delivery')
    await waitFor(() => r.got.filter(g => g.json.type === 'document.changed' && g.json.id !== firstId).length >= 6, undefined, 'the later delivery given up')
    expect(r.got.filter(g => g.json.id === firstId)).toHaveLength(6)
  })

  it('onSessionStart, onSessionEnd and onSecurityEvent follow sign-in and sign-out, and reach the webhook', async () => {
    const r = await receiver()
    const started: SessionStartEvent[] = []
    const ended: SessionEndEvent[] = []
    const security: SecurityHookEvent[] = []
    const s = await start({ webhookUrl: r.url, webhookSecret: SECRET }, {
      onSessionStart: e => { started.push(e) },
      onSessionEnd: async e => { ended.push(e) },
      onSecurityEvent: e => { security.push(e) }
    })
    const d = await signedInDevice(s.url)
    await waitFor(() => started.length === 1, undefined, 'the start hook')
    expect(started[0]).toMatchObject({ userId: d.tokens.userId, sessionId: d.tokens.sessionId })
    expect((await d.api('POST', '/auth/logout')).status).toBe(204)
    await waitFor(() => ended.length === 1, undefined, 'the end hook')
    expect(ended[0]).toMatchObject({ userId: d.tokens.userId, sessionId: d.tokens.sessionId, reason: 'logout' })
    expect(security.map(e => e.kind)).toEqual(expect.arrayContaining(['register', 'login_ok', 'logout']))
    await waitFor(() => r.got.some(g => g.json.type === 'session.ended'), undefined, 'the webhook')
    expect(r.got.filter(g => g.json.type === 'session.started')[0]!.json.data).toMatchObject({ sessionId: d.tokens.sessionId })
    expect(r.got.every(verified)).toBe(true)
    // Nothing secret rides along.
    expect(r.got.map(g => g.body).join('')).not.toContain(d.tokens.refreshToken)
  })
})
