import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { signedInDevice, type TestDevice, sessionDocUrl } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { startIdentityServer } from '../helpers/identity.js'
import { waitFor } from '../helpers/server.js'
import { adminCall, grantAdmin } from '../helpers/admin.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>
const servers: Server[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
})

const start = async () => { const s = await startIdentityServer(); servers.push(s); return s }
const api = async (s: Server, method: string, path: string, key: string | undefined, body?: unknown) => {
  const headers: Record<string, string> = {}
  if (key) headers.authorization = `Bearer ${key}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(s.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}
/** A server, a signed-in device, and a backend's API key that reads and writes; `path` is the device's user's session document. */
const withBackend = async () => {
  const s = await start()
  const d = await signedInDevice(s.url)
  const { key } = await s.apiKeys!.create('backend', ['docs:read', 'docs:write'])
  return { s, d, key, path: `/api/users/${d.tokens.userId}/session-doc` }
}
/** A device's socket on its own session document, its Y.Doc kept in sync. */
const sessionSocket = (s: Server, d: TestDevice, prepare?: (doc: Y.Doc) => void) => {
  const c = new RawClient(sessionDocUrl(s.wsUrl, d))
  prepare?.(c.doc)
  clients.push(c)
  return c
}

describe('server-side document API', () => {
  it('refuses requests without a valid key of the right scope, and never echoes the key', async () => {
    const s = await start()
    const d = await signedInDevice(s.url)
    const path = `/api/users/${d.tokens.userId}/session-doc`
    const reader = await s.apiKeys!.create('reader', ['docs:read'])
    expect((await api(s, 'GET', path, undefined)).status).toBe(401)
    const forged = reader.key.slice(0, -4) + 'AAAA'
    const bad = await api(s, 'GET', path, forged)
    expect(bad.status).toBe(401)
    expect(JSON.stringify(bad.body)).not.toContain(forged.split('.')[1])
    // A device's access token is no API key.
    expect((await api(s, 'GET', path, d.tokens.accessToken)).status).toBe(401)
    expect((await api(s, 'GET', path, reader.key)).status).toBe(200)
    const denied = await api(s, 'PATCH', path, reader.key, { ops: [{ op: 'set', path: 'playback.position', value: 1 }] })
    expect(denied.status).toBe(403)
    expect(denied.body.error).toBe('forbidden')
    expect(await s.apiKeys!.revoke(reader.record.id)).toBe(true)
    expect((await api(s, 'GET', path, reader.key)).status).toBe(401)
    expect((await s.apiKeys!.list()).find(k => k.id === reader.record.id)?.secretHash).not.toContain(reader.key.split('.')[1])
  })

  it('reads what devices wrote as JSON, and a PATCH reaches a live device', async () => {
    const { s, d, key, path } = await withBackend()
    const device = sessionSocket(s, d)
    await device.opened
    device.doc.getMap('preferences').set('theme', 'dark')
    const tasks = device.doc.getArray<Y.Map<unknown>>('tasks')
    const task = new Y.Map<unknown>()
    task.set('title', 'write report')
    tasks.push([task])
    device.doc.getText('notes').insert(0, 'hello')
    await device.roundTrip()

    const read = await api(s, 'GET', path, key)
    expect(read.status).toBe(200)
    expect(read.body).toEqual({ preferences: { theme: 'dark' }, tasks: [{ title: 'write report' }], notes: 'hello' })

    const patched = await api(s, 'PATCH', path, key, { ops: [
      { op: 'set', path: 'playback.position', value: 42 },
      { op: 'set', path: 'preferences.fontSize', value: 14 },
      { op: 'delete', path: 'preferences.theme' }
    ] })
    expect(patched.status).toBe(200)
    expect(patched.body.appliedBytes).toBeGreaterThan(0)
    await waitFor(() => device.doc.getMap('playback').get('position') === 42, undefined, 'the patch on the live device')
    expect(device.doc.getMap('preferences').toJSON()).toEqual({ fontSize: 14 })
    expect((await api(s, 'GET', path, key)).body.playback).toEqual({ position: 42 })

    // A Yjs update made by a backend's own Y.Doc goes the same way.
    const backend = new Y.Doc()
    backend.getMap('preferences').set('lang', 'de')
    const update = Buffer.from(Y.encodeStateAsUpdate(backend)).toString('base64')
    expect((await api(s, 'PATCH', path, key, { update })).status).toBe(200)
    await waitFor(() => device.doc.getMap('preferences').get('lang') === 'de', undefined, 'the update on the live device')
  })

  it("merges with an offline device's edits and survives a restart of the document", async () => {
    const { s, d, key, path } = await withBackend()
    const first = sessionSocket(s, d)
    await first.opened
    first.doc.getMap('preferences').set('theme', 'light')
    await first.roundTrip()
    const offline = new Y.Doc()
    Y.applyUpdate(offline, Y.encodeStateAsUpdate(first.doc))
    first.ws.terminate()
    // Offline: the device edits; meanwhile the backend changes another key.
    offline.getMap('preferences').set('theme', 'dark')
    offline.getMap('playback').set('episode', 3)
    expect((await api(s, 'PATCH', path, key, { ops: [{ op: 'set', path: 'playback.position', value: 7 }] })).status).toBe(200)
    const back = sessionSocket(s, d, doc => Y.applyUpdate(doc, Y.encodeStateAsUpdate(offline)))
    await back.opened
    await back.roundTrip()
    await waitFor(() => back.doc.getMap('playback').get('position') === 7, undefined, 'the backend change on the returning device')
    await back.roundTrip()
    const merged = (await api(s, 'GET', path, key)).body
    expect(merged).toEqual({ preferences: { theme: 'dark' }, playback: { episode: 3, position: 7 } })
  })

  it('refuses bad input with 400 or 404 and keeps serving', async () => {
    const { s, d, key, path } = await withBackend()
    const device = sessionSocket(s, d)
    await device.opened
    device.doc.getArray('tasks').push(['x'])
    await device.roundTrip()
    const cases: unknown[] = [
      {},
      { ops: [] },
      { ops: [{ op: 'set', path: 'playback' , value: 1 }] },
      { ops: [{ op: 'set', path: 'playback.position' }] },
      { ops: [{ op: 'set', path: 'tasks.first', value: 1 }] },
      { ops: [{ op: 'set', path: 'preferences.a.b', value: 1 }] },
      { ops: [{ op: 'move', path: 'a.b' }] },
      { update: Buffer.from('not a yjs update at all').toString('base64') },
      { update: 'not base64!' },
      { update: Buffer.from([1, 200, 3, 4, 5]).toString('base64') },
      { ops: [{ op: 'set', path: 'a.b', value: 1 }], update: 'AAAA' }
    ]
    for (const body of cases) {
      const r = await api(s, 'PATCH', path, key, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error).toBe('invalid_request')
    }
    expect((await api(s, 'GET', '/api/users/no-such-user/session-doc', key)).status).toBe(404)
    expect((await api(s, 'GET', path, key)).body).toEqual({ tasks: ['x'] })
    expect(device.ws.readyState).toBe(device.ws.OPEN)
  })

  it("an admin's DPoP-bound access token reads and patches (audited); a user's own token does not", async () => {
    const s = await start()
    const d = await signedInDevice(s.url)
    const boss = await signedInDevice(s.url)
    const path = `/api/users/${d.tokens.userId}/session-doc`
    expect((await adminCall(boss, 'GET', path)).status).toBe(403)
    expect((await adminCall(d, 'GET', path)).status).toBe(403) // not even on one's own document: that is what sync is for
    await grantAdmin(s, boss.email)
    expect((await boss.api('GET', path)).status).toBe(401) // no DPoP proof
    const patched = await adminCall(boss, 'PATCH', path, { ops: [{ op: 'set', path: 'preferences.theme', value: 'dark' }] })
    expect(patched.status).toBe(200)
    expect((await adminCall(boss, 'GET', path)).body).toEqual({ preferences: { theme: 'dark' } })
    const audit = await s.identity!.identity.store.securityEvents({ userId: boss.tokens.userId, kinds: ['admin_action'], limit: 10 })
    expect(audit.map(e => e.reason)).toEqual(expect.arrayContaining(['read_session_doc', 'change_session_doc']))
  })
})

