import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { signedInDevice, type TestDevice } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { waitFor } from '../helpers/server.js'
import { BAD_DOC_NAMES, BAD_FRAMES } from '../helpers/bad-frames.js'
import { useTestDatabase } from '../storage/postgres.js'
import { startCluster, type Cluster, type ClusterNode } from './harness.js'
import { CloseCode } from '../../shared/protocol.js'

/**
 * The single-node bad-input cases (test/helpers/bad-frames.ts) sent through each node of a cluster:
 * the same close codes and reasons, nothing of an attack reaches a device on another node, and the
 * stored documents hold only the good edits.
 */
const db = useTestDatabase()
let cluster: Cluster
let owner: TestDevice
const clients: RawClient[] = []
/** Each attacked document and the text it must hold. */
const attacked: string[] = []
beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, databaseUrl: db.url })
  owner = await signedInDevice(cluster.nodes[0]!.url)
}, 180_000)
afterAll(async () => { await cluster?.stop() }, 60_000)
afterEach(() => { for (const c of clients.splice(0)) c.ws.terminate() })

const socket = (node: ClusterNode, doc: string) => {
  const c = new RawClient(`${node.wsUrl}/${doc}?token=${encodeURIComponent(owner.tokens.accessToken)}`)
  clients.push(c)
  return c
}

describe('bad input through any node of a cluster', () => {
  BAD_FRAMES.forEach((bad, i) => {
    it(bad.name, async () => {
      const nodes = cluster.nodes
      const here = nodes[i % nodes.length]!
      const there = nodes[(i + 1) % nodes.length]!
      const { docName } = (await owner.api('POST', '/docs', { title: `bad ${i}` })).body as { docName: string }
      const sameHere = socket(here, docName)
      const sameThere = socket(there, docName)
      await waitFor(() => sameHere.synced && sameThere.synced, 10_000, 'bystanders synced')
      sameThere.doc.getText('t').insert(0, 'before')
      await waitFor(() => sameHere.text() === 'before', 10_000, 'the edit from the other node')
      const attacker = socket(here, docName)
      await waitFor(() => attacker.synced, 10_000, 'attacker synced')
      const seenThere = sameThere.received.length
      attacker.sendRaw(bad.bytes(1024 * 1024)) // the nodes run with the default --max-message-bytes
      expect(await attacker.closed).toBe(bad.code)
      if (bad.reason) expect(attacker.closeReason).toMatch(bad.reason)
      // A good edit through the attacked node after the attack: the other node relays a document's
      // updates in order, so anything the attack made it publish would arrive on `there` before it.
      sameHere.doc.getText('t').insert(6, '+after')
      await waitFor(() => sameThere.text() === 'before+after', 10_000, 'the good edit on the other node')
      expect(sameThere.received.length, 'the device on the other node received nothing but the good edit').toBe(seenThere + 1)
      expect(sameHere.ws.readyState).toBe(WebSocket.OPEN)
      expect(sameThere.ws.readyState).toBe(WebSocket.OPEN)
      attacked.push(docName)
    }, 60_000)
  })

  it('invalid document names → 4404 on every node', async () => {
    for (const node of cluster.nodes) {
      for (const name of BAD_DOC_NAMES) expect(await socket(node, name).closed).toBe(CloseCode.invalidDocName)
    }
  })

  it('stored state after the attacks: exactly the good edits, on a restarted cluster', async () => {
    expect(attacked).toHaveLength(BAD_FRAMES.length)
    for (const c of clients.splice(0)) c.ws.terminate()
    for (const n of cluster.nodes) await n.stop()
    const node = cluster.nodes[2]!
    await node.restart()
    for (const doc of attacked) {
      const check = socket(node, doc)
      await waitFor(() => check.synced, 10_000, `${doc} synced`)
      expect(check.text()).toBe('before+after')
      expect(check.doc.getText('big').length).toBe(0)
    }
    await Promise.all(cluster.nodes.slice(0, 2).map(n => n.restart()))
  }, 120_000)
})
