import * as Y from 'yjs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { signedInDevice, type TestDevice } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { waitFor } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'
import { startCluster, type Cluster, type ClusterNode } from './harness.js'

/** Three server processes on one PostgreSQL database and one Redis prefix. */
const db = useTestDatabase()
let cluster: Cluster
const clients: RawClient[] = []
beforeAll(async () => { cluster = await startCluster({ nodes: 3, databaseUrl: db.url }) }, 180_000)
afterAll(async () => { await cluster?.stop() }, 60_000)
afterEach(() => { for (const c of clients.splice(0)) c.ws.terminate() })

const socket = (node: ClusterNode, doc: string, device: TestDevice) => {
  const c = new RawClient(`${node.wsUrl}/${doc}?token=${encodeURIComponent(device.tokens.accessToken)}`)
  clients.push(c)
  return c
}
/** A device that was offline comes back through `node` holding everything its old socket's doc held. */
const reconnect = (old: RawClient, node: ClusterNode, doc: string, device: TestDevice) => {
  const c = socket(node, doc, device)
  Y.applyUpdate(c.doc, Y.encodeStateAsUpdate(old.doc))
  return c
}

describe('three node processes', () => {
  it('an edit through node A reaches devices on B and C; theirs reach A', async () => {
    const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
    const owner = await signedInDevice(a.url)
    const { docName } = (await owner.api('POST', '/docs', { title: 'Three' })).body
    const onA = socket(a, docName, owner)
    const onB = socket(b, docName, owner)
    const onC = socket(c, docName, owner)
    await waitFor(() => onA.synced && onB.synced && onC.synced, 10_000, 'all three synced')
    onA.doc.getText('t').insert(0, 'A')
    await waitFor(() => onB.text() === 'A' && onC.text() === 'A', 10_000, 'B and C to see the edit made on A')
    onB.doc.getText('t').insert(1, 'B')
    onC.doc.getText('t').insert(0, 'C')
    await waitFor(() => onA.text() === onB.text() && onB.text() === onC.text() && onA.text().length === 3, 10_000, 'all three to converge')
    expect(onA.text()).toMatch(/^(CAB|ACB)$/)
  })

  it('offline edits of devices on different nodes converge when they come back, also through other nodes', async () => {
    const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
    const owner = await signedInDevice(b.url)
    const { docName } = (await owner.api('POST', '/docs', { title: 'Offline' })).body
    const first = [socket(a, docName, owner), socket(b, docName, owner), socket(c, docName, owner)]
    await waitFor(() => first.every(s => s.synced), 10_000, 'all synced')
    first[0]!.doc.getText('t').insert(0, 'base ')
    await waitFor(() => first.every(s => s.text() === 'base '), 10_000, 'the base text everywhere')
    for (const s of first) s.ws.terminate()
    // Offline: each device edits its own copy.
    first.forEach((s, i) => { for (let k = 0; k < 5; k++) s.doc.getMap<number>('m').set(`d${i}.${k}`, k) })
    first[1]!.doc.getText('t').insert(5, 'from-B ')
    // Each comes back through the next node (A's device through B, B's through C, C's through A).
    const nodes = [b, c, a]
    const back = first.map((s, i) => reconnect(s, nodes[i]!, docName, owner))
    await waitFor(() => back.every(s => s.synced && s.doc.getMap('m').size === 15 && s.text() === 'base from-B '), 15_000, 'the three devices to converge')
    // A fresh device on any node reads the same state.
    const fresh = socket(c, docName, owner)
    await waitFor(() => fresh.synced && fresh.doc.getMap('m').size === 15, 10_000, 'a fresh device on C')
    expect(fresh.doc.getMap('m').toJSON()).toEqual(back[0]!.doc.getMap('m').toJSON())
  })
})
