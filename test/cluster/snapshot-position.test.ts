import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { openClusterFixtures, redundantUpdates } from './open-nodes.js'

const cluster = openClusterFixtures()

describe('a snapshot that records no stream position (written before migration 004)', () => {
  it('a node loading it gets the retained stream again, content right; the next compaction records a position and ends it', async () => {
    const doc = 'legacy-doc'
    const stream = `${cluster.prefix}doc:${doc}`
    const redis = cluster.redis()
    const a = await cluster.node()
    const onA = cluster.client(a, doc)
    await waitFor(() => onA.synced, 5000, 'A synced')
    for (let i = 0; i < 12; i++) onA.doc.getText('t').insert(i, 'x')
    const text = 'x'.repeat(12)
    await waitFor(async () => (await redis.xlen(stream)) === 12, 5000, 'every edit on the stream')
    // A's shutdown compacts: the snapshot holds every edit. Then it is made to look like an old one,
    // and A's lease is over, as it would be 30 s later.
    await a.close()
    await cluster.rows(`UPDATE doc_snapshots SET position = '' WHERE name = $1`, [doc])
    await cluster.rows(`UPDATE doc_compactions SET until = now() - interval '1 hour' WHERE name = $1`, [doc])
    expect(await cluster.rows('SELECT 1 FROM doc_updates WHERE name = $1', [doc])).toEqual([])

    // B reads the stream from its oldest entry: the 12 updates come again and change nothing. Whether
    // B's device also receives them as updates depends on whether the read ends before it joins.
    const b = await cluster.node()
    const onB = cluster.client(b, doc)
    await waitFor(() => onB.synced && onB.text() === text, 5000, 'B synced')
    expect(redundantUpdates(onB)).toBeLessThanOrEqual(12)

    // B's compaction (at its shutdown) records the position B has read up to.
    const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0]
    onB.ws.terminate()
    await b.close()
    const rows = await cluster.rows<{ position: string }>('SELECT position FROM doc_snapshots WHERE name = $1', [doc])
    expect(rows).toEqual([{ position: last }])

    // C reads the stream from there: nothing twice. An edit through D shows C has read the stream to its end.
    const c = await cluster.node()
    const onC = cluster.client(c, doc)
    await waitFor(() => onC.synced && onC.text() === text, 5000, 'C synced')
    const d = await cluster.node()
    const onD = cluster.client(d, doc)
    await waitFor(() => onD.synced, 5000, 'D synced')
    onD.doc.getText('t').insert(0, '!')
    await waitFor(() => onC.text() === '!' + text, 5000, 'the edit through D on C')
    expect(redundantUpdates(onC)).toBe(0)
  })
})
