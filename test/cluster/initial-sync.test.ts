import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { openClusterFixtures, redundantUpdates } from './open-nodes.js'

const cluster = openClusterFixtures()

/** A gate the loading node waits at between its load from storage and its subscription to the stream. */
const gate = () => {
  let open!: () => void
  let reached!: () => void
  const opened = new Promise<void>(resolve => { open = resolve })
  const waiting = new Promise<void>(resolve => { reached = resolve })
  return { open, waiting, hook: async () => { reached(); await opened } }
}

describe('initial sync on a node that loads a document another node is editing', () => {
  it('an update accepted elsewhere between load and subscription arrives once; stored ones are not sent again', async () => {
    const held = gate()
    const a = await cluster.node()
    const b = await cluster.node({}, { afterLoad: held.hook })
    const redis = cluster.redis()
    const doc = 'race-doc'
    const stream = `${cluster.prefix}doc:${doc}`
    const onA = cluster.client(a, doc)
    await waitFor(() => onA.synced, 5000, 'A synced')
    onA.doc.getText('t').insert(0, 'stored ')
    // In storage and on the stream before B loads: B's load holds it.
    await waitFor(async () => (await redis.xlen(stream)) === 1, 5000, 'the first update on the stream')
    await waitFor(async () => (await cluster.rows<{ n: number }>('SELECT count(*)::int AS n FROM doc_updates WHERE name = $1', [doc]))[0]!.n === 1,
      5000, 'the first update in PostgreSQL')
    const onB = cluster.client(b, doc)
    await held.waiting // B loaded: "stored " only
    onA.doc.getText('t').insert(7, 'during')
    await waitFor(async () => (await redis.xlen(stream)) === 2, 5000, 'the second update on the stream')
    held.open()
    await waitFor(() => onB.synced && onB.text() === 'stored during', 5000, 'B to get both updates')
    // A last edit: once it is on B, B has read every stream entry before it.
    onA.doc.getText('t').insert(13, '!')
    await waitFor(() => onB.text() === 'stored during!', 5000, 'the last update on B')
    expect(redundantUpdates(onB)).toBe(0)
  })
})
