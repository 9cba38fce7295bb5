import { describe, expect, it } from 'vitest'
import { CloseCode, decodeMessage, MessageType } from '../../shared/protocol.js'
import type { SecurityAlertMessage } from '../../shared/api.js'
import { waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, dropSessionEvents, REDIS_URL, type Node } from './nodes.js'

const cluster = clusterFixtures()

/** Two nodes on one Redis; client addresses come from X-Forwarded-For (one trusted proxy hop). */
const twoNodes = async () => {
  const redisPrefix = cluster.prefix()
  const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, trustedProxies: '1' })
  const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, trustedProxies: '1' })
  return { a, b }
}

const socket = (node: Node, d: ClusterDevice, docName: string, ext = false) =>
  cluster.raw(`${node.wsUrl}/${docName}?token=${encodeURIComponent(d.tokens.accessToken)}${ext ? '&ext=1' : ''}`)

/** A draft of `owner`'s shared with `member` as `role`. */
const sharedDraft = async (owner: ClusterDevice, member: ClusterDevice, role: 'editor' | 'viewer') => {
  const created = await owner.api('POST', '/docs', { title: 'Shared' })
  expect(created.status).toBe(201)
  const { id, docName } = created.body as { id: string, docName: string }
  expect((await owner.api('POST', `/docs/${id}/members`, { email: member.email, role })).status).toBe(200)
  return { id, docName }
}

describe('cluster: draft access changes close sockets on every node', () => {
  it('a member removed through node A loses their socket on node B (4409) within 1 s; the owner keeps theirs', async () => {
    const { a, b } = await twoNodes()
    const owner = await ClusterDevice.signedIn(a.url, 'owner')
    const member = await ClusterDevice.signedIn(a.url, 'member')
    const { id, docName } = await sharedDraft(owner, member, 'editor')
    const memberOnB = socket(b, member, docName)
    const ownerOnB = socket(b, owner, docName)
    await waitFor(() => memberOnB.synced && ownerOnB.synced, 5000, 'synced on B')
    const started = Date.now()
    expect((await owner.api('DELETE', `/docs/${id}/members/${member.tokens.userId}`)).status).toBe(204)
    expect(await memberOnB.closed).toBe(CloseCode.accessChanged)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(memberOnB.closeReason).toBe('document access changed')
    await ownerOnB.roundTrip() // still served
    expect(ownerOnB.closeCode).toBeNull()
  })

  it('an editor downgraded to viewer through node A is closed on node B (to reconnect read-only)', async () => {
    const { a, b } = await twoNodes()
    const owner = await ClusterDevice.signedIn(a.url, 'owner')
    const member = await ClusterDevice.signedIn(a.url, 'member')
    const { id, docName } = await sharedDraft(owner, member, 'editor')
    const memberOnB = socket(b, member, docName)
    await waitFor(() => memberOnB.synced, 5000, 'synced on B')
    expect((await owner.api('POST', `/docs/${id}/members`, { email: member.email, role: 'viewer' })).status).toBe(200)
    expect(await memberOnB.closed).toBe(CloseCode.accessChanged)
  })

  it('a draft deleted through node A closes its sockets on node B and B drops the document', async () => {
    const { a, b } = await twoNodes()
    const owner = await ClusterDevice.signedIn(a.url, 'owner')
    const member = await ClusterDevice.signedIn(a.url, 'member')
    const { id, docName } = await sharedDraft(owner, member, 'viewer')
    const ownerOnB = socket(b, owner, docName)
    const memberOnB = socket(b, member, docName)
    await waitFor(() => ownerOnB.synced && memberOnB.synced, 5000, 'synced on B')
    ownerOnB.doc.getText('t').insert(0, 'secret plans')
    await ownerOnB.roundTrip()
    expect((await owner.api('DELETE', `/docs/${id}`)).status).toBe(204)
    expect(await ownerOnB.closed).toBe(CloseCode.accessChanged)
    expect(await memberOnB.closed).toBe(CloseCode.accessChanged)
    expect(ownerOnB.closeReason).toBe('document deleted')
    await waitFor(async () => !(await b.rooms.loaded()).some(r => r.name === docName), 5000, 'B dropped the document')
  })
})

describe('cluster: draft access changes a node missed', () => {
  it('when the events B missed were trimmed from the stream, B re-checks its draft sockets: removed members and deleted drafts close', async () => {
    const { a, b, gate, redisPrefix } = await cluster.nodesWithGate()
    const owner = await ClusterDevice.signedIn(a.url, 'owner')
    const member = await ClusterDevice.signedIn(a.url, 'member')
    const kept = await sharedDraft(owner, member, 'editor')
    const doomed = await sharedDraft(owner, member, 'viewer')
    const memberOnB = socket(b, member, kept.docName)
    const ownerOnB = socket(b, owner, kept.docName)
    const doomedOnB = socket(b, owner, doomed.docName)
    await waitFor(() => memberOnB.synced && ownerOnB.synced && doomedOnB.synced, 5000, 'synced on B')
    gate.cut()
    expect((await owner.api('DELETE', `/docs/${kept.id}/members/${member.tokens.userId}`)).status).toBe(204)
    expect((await owner.api('DELETE', `/docs/${doomed.id}`)).status).toBe(204)
    expect(await dropSessionEvents(redisPrefix)).toBeGreaterThan(0)
    gate.restore()
    expect(await memberOnB.closed).toBe(CloseCode.accessChanged)
    expect(await doomedOnB.closed).toBe(CloseCode.accessChanged)
    expect(doomedOnB.closeReason).toBe('document deleted')
    await ownerOnB.roundTrip()
    expect(ownerOnB.closeCode).toBeNull()
    expect((await b.rooms.loaded()).some(r => r.name === doomed.docName)).toBe(false)
  })
})

const HOME = '10.1.1.5'
const FAR = '203.0.113.7'

/** A cluster device at an address with a user agent: every request it makes carries both. */
class PlacedDevice extends ClusterDevice {
  ip = ''
  ua = ''
  override call<T> (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return super.call<T>(method, path, body, { 'x-forwarded-for': this.ip, 'user-agent': this.ua, ...headers })
  }

  static async at (baseUrl: string, email: string | undefined, name: string, ip: string, ua: string): Promise<PlacedDevice> {
    const base = await ClusterDevice.make(baseUrl, email, name)
    return Object.assign(Object.create(PlacedDevice.prototype) as PlacedDevice, base, { ip, ua })
  }
}

const alertsOf = (c: ReturnType<typeof socket>): SecurityAlertMessage[] => c.received
  .map(frame => decodeMessage(frame))
  .flatMap(m => (m.type === MessageType.securityAlert ? [JSON.parse(m.json) as SecurityAlertMessage] : []))

describe('cluster: security alerts reach the user\'s sockets on every node', () => {
  it('a sign-in from a new device and network through node A alerts the laptop\'s socket on node B; resolving it on A tells B', async () => {
    const { a, b } = await twoNodes()
    const laptop = await PlacedDevice.at(a.url, undefined, 'laptop', HOME, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0')
    expect((await laptop.register()).status).toBe(201)
    expect((await laptop.login()).status).toBe(200)
    const onB = socket(b, laptop, laptop.tokens.sessionDoc, true)
    await waitFor(() => onB.synced, 5000, 'synced on B')
    const tv = await PlacedDevice.at(a.url, laptop.email, 'TV', FAR, 'Mozilla/5.0 (SMART-TV; Tizen 6.0) SamsungBrowser/4.0 TV')
    expect((await tv.login()).status).toBe(200)
    await waitFor(() => alertsOf(onB).length > 0, 5000, 'the alert on B')
    const msg = alertsOf(onB)[0]!
    if (msg.type !== 'alert') throw new Error('expected an alert')
    expect(msg.alert.sessionId).toBe(tv.tokens.sessionId)
    expect(msg.alert.signals.sort()).toEqual(['new_device', 'new_network'])
    expect((await laptop.api('POST', `/auth/alerts/${msg.alert.id}/confirm`)).status).toBe(204)
    await waitFor(() => alertsOf(onB).length > 1, 5000, 'the resolution on B')
    expect(alertsOf(onB)[1]).toEqual({ type: 'resolved', id: msg.alert.id, resolution: 'confirmed' })
  })
})
