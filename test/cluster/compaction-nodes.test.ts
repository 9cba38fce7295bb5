import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { waitFor } from '../helpers/server.js'
import { openClusterFixtures, type OpenNode as Node } from './open-nodes.js'

const cluster = openClusterFixtures()
const compactions = async (n: Node) => (await n.metrics.compactions.get()).values[0]?.value ?? 0

describe('compaction in a cluster', () => {
  it('two nodes editing one document: one of them compacts it, the log holds what follows, nothing is lost', async () => {
    const a = await cluster.node({ compactMaxEntries: 8 })
    const b = await cluster.node({ compactMaxEntries: 8 })
    const doc = 'shared-doc'
    const onA = cluster.client(a, doc)
    const onB = cluster.client(b, doc)
    await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
    let expected = ''
    for (let i = 0; i < 60; i++) {
      const [from, to] = i % 2 === 0 ? [onA, onB] : [onB, onA]
      from.doc.getText('t').insert(expected.length, String(i % 10))
      expected += String(i % 10)
      await waitFor(() => to.text() === expected, 5000, `edit ${i} on the other node`)
    }
    await waitFor(async () => (await cluster.rows('SELECT 1 FROM doc_snapshots WHERE name = $1', [doc])).length === 1, 5000, 'a snapshot')
    // The lease stays with the node that took it: the other one merges in memory only.
    const counts = [await compactions(a), await compactions(b)]
    expect(counts.filter(c => c > 0)).toHaveLength(1)
    const position = (await cluster.rows<{ position: string }>('SELECT position FROM doc_snapshots WHERE name = $1', [doc]))[0]?.position
    expect(position).toMatch(/^\d+-\d+$/)
    // A third node loads the snapshot and the log after it, and reads the stream from the snapshot on.
    const c = await cluster.node()
    const onC = cluster.client(c, doc)
    await waitFor(() => onC.synced, 5000, 'C synced')
    expect(onC.text()).toBe(expected)
    onA.doc.getText('t').insert(0, '>')
    await waitFor(() => onC.text() === '>' + expected, 5000, 'an edit on A reaches C')
  })

  it('a node loading a compacted document gets an update another node has not stored yet', async () => {
    const a = await cluster.node({ compactMaxEntries: 4 })
    const doc = 'window-doc'
    const stream = `${cluster.prefix}doc:${doc}`
    const redis = cluster.redis()
    const onA = cluster.client(a, doc)
    await waitFor(() => onA.synced, 5000, 'A synced')
    for (let i = 0; i < 12; i++) onA.doc.getText('t').insert(i, 'x')
    await waitFor(async () => (await cluster.rows('SELECT 1 FROM doc_snapshots WHERE name = $1', [doc])).length === 1, 5000, 'a snapshot')
    // Hold A's log writes (reads go on): the next update is on the stream only.
    const locker = new pg.Client({ connectionString: cluster.dbUrl })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE doc_updates IN SHARE MODE')
      const entries = await redis.xlen(stream)
      onA.doc.getText('t').insert(0, 'late ')
      await waitFor(async () => (await redis.xlen(stream)) === entries + 1, 5000, 'the late update on the stream')
      const b = await cluster.node()
      const onB = cluster.client(b, doc)
      await waitFor(() => onB.synced && onB.text() === onA.text(), 5000, 'B to have the late update')
      expect(onB.text()).toBe('late ' + 'x'.repeat(12))
      expect((await cluster.rows('SELECT 1 FROM doc_updates WHERE name = $1 AND data IS NOT NULL', [doc])).length).toBeLessThan(12)
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
  })
})
