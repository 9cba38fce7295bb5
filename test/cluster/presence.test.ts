import { describe, expect, it } from 'vitest'
import { decodeAwarenessUpdate, encodeAwarenessEntries } from '../../shared/awareness.js'
import { decodeMessage, encodeAwareness, MessageType } from '../../shared/protocol.js'
import type { RawClient } from '../helpers/raw-client.js'
import { waitFor } from '../helpers/server.js'
import { openClusterFixtures } from './open-nodes.js'

const cluster = openClusterFixtures()

/** The presence a client was last told of, per awareness client id (null: removed), from its frames. */
const presenceSeen = (client: RawClient): Map<number, string | null> => {
  const seen = new Map<number, string | null>()
  for (const frame of client.received) {
    const msg = decodeMessage(frame)
    if (msg.type !== MessageType.awareness) continue
    for (const e of decodeAwarenessUpdate(msg.payload)) seen.set(e.clientID, e.removed ? null : e.state)
  }
  return seen
}
const announce = (client: RawClient, clientID: number, clock: number, state: unknown) =>
  client.ws.send(encodeAwareness(encodeAwarenessEntries([{ clientID, clock, state: JSON.stringify(state), removed: state === null }])))

describe('presence across nodes', () => {
  it('a device on node B sees the presence of a device on node A, its changes and its removal when it leaves', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const doc = 'presence-doc'
    const onA = cluster.client(a, doc)
    const onB = cluster.client(b, doc)
    await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
    announce(onA, 1001, 1, { user: 'ann' })
    await waitFor(() => presenceSeen(onB).get(1001) === '{"user":"ann"}', 5000, 'B to see A\'s device')
    announce(onA, 1001, 2, { user: 'ann', cursor: 4 })
    await waitFor(() => presenceSeen(onB).get(1001) === '{"user":"ann","cursor":4}', 5000, 'the change on B')
    // A device joining B later is told of it at once.
    const late = cluster.client(b, doc)
    await waitFor(() => late.synced && presenceSeen(late).get(1001) === '{"user":"ann","cursor":4}', 5000, 'a later device on B')
    onA.ws.close()
    await waitFor(() => presenceSeen(onB).get(1001) === null, 5000, 'the removal on B')
  })

  it('a device on one node cannot change or remove the presence of a device on another', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const doc = 'presence-owner-doc'
    const onA = cluster.client(a, doc)
    const onB = cluster.client(b, doc)
    await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
    announce(onA, 1001, 1, { user: 'ann' })
    await waitFor(() => presenceSeen(onB).has(1001), 5000, 'B to see A\'s device')
    announce(onB, 1001, 5, { user: 'mallory' })
    announce(onB, 1001, 6, null)
    announce(onB, 2002, 1, { user: 'bob' }) // its own id: passes, after the two above
    await waitFor(() => presenceSeen(onA).get(2002) === '{"user":"bob"}', 5000, 'A to see B\'s own device')
    expect(presenceSeen(onA).has(1001)).toBe(false) // nothing about A's own device came back from B
    const third = cluster.client(b, doc)
    await waitFor(() => third.synced && presenceSeen(third).has(2002), 5000, 'a third device on B')
    expect(presenceSeen(third).get(1001)).toBe('{"user":"ann"}')
  })

  it('presence a remote node stops renewing (it died) is removed after --presence-timeout-ms', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ presenceTimeoutMs: 300 })
    const doc = 'presence-timeout-doc'
    const onA = cluster.client(a, doc)
    const onB = cluster.client(b, doc)
    await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
    announce(onA, 1001, 1, { user: 'ann' })
    await waitFor(() => presenceSeen(onB).get(1001) === '{"user":"ann"}', 5000, 'B to see A\'s device')
    // No renewal arrives from A: B removes it and tells its devices.
    await waitFor(() => presenceSeen(onB).get(1001) === null, 5000, 'the timeout on B')
    expect(onA.closeCode).toBeNull()
  })
})
