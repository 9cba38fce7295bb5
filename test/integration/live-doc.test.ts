import * as Y from 'yjs'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, waitFor } from '../helpers/server.js'

type Server = Awaited<ReturnType<typeof startServer>>
const servers: Server[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
})

const start = async (overrides: Parameters<typeof startServer>[0]) => { const s = await startServer(overrides); servers.push(s); return s }
const join = async (app: Server, doc: string, state?: Uint8Array) => {
  const c = new RawClient(`${app.wsUrl}/${doc}`)
  clients.push(c)
  // A returning device: it holds an older state before it connects.
  if (state) Y.applyUpdate(c.doc, state, c)
  await c.opened
  await waitFor(() => c.synced, 5000, 'sync step 2')
  return c
}
const liveDocBytes = async (app: Server) => Number(/^sync_live_doc_bytes (-?\d+)/m.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1])

/** `count` 10 KB inserts into the text, by the writer. */
const writeBig = (w: RawClient, from: number, count: number) => {
  const t = w.doc.getText('t')
  for (let i = from; i < from + count; i++) t.insert(t.length, String(i % 10).repeat(10_000))
}
/** Once a device that was there all along has the writer's text, the server has accepted all of it. */
const accepted = (watcher: RawClient, writer: RawClient) => waitFor(() => watcher.text() === writer.text() &&
  JSON.stringify(watcher.doc.getMap('m').toJSON()) === JSON.stringify(writer.doc.getMap('m').toJSON()), 5000, 'the server accepted the writes')

describe('a big document that devices join while it is edited', () => {
  it('keeps a live Y.Doc within the budget, and fresh and returning devices get exactly its state', async () => {
    const app = await start({ liveDocBudgetBytes: 2 * 1024 * 1024 })
    const writer = await join(app, 'big')
    const watcher = await join(app, 'big')
    writeBig(writer, 0, 40)
    await accepted(watcher, writer)
    const early = await join(app, 'big')
    await waitFor(() => early.text().length === 400_000, 5000, 'the first joiner has the 400 KB')
    const earlyState = Y.encodeStateAsUpdate(early.doc)
    early.ws.terminate()
    // The first join rebuilt a 400 KB document for its sync: the room kept that Y.Doc.
    expect(await liveDocBytes(app)).toBeGreaterThan(256 * 1024)

    writeBig(writer, 40, 3)
    writer.doc.getMap('m').set('k', 'v')
    writer.doc.getText('t').delete(5, 20_000)
    const fresh = await join(app, 'big')
    const returning = await join(app, 'big', earlyState)
    const expected = writer.doc.getText('t').toString()
    for (const c of [fresh, returning]) {
      await waitFor(() => c.text() === expected && c.doc.getMap('m').get('k') === 'v', 5000, 'a joiner converged')
    }
    // Synced from the live Y.Doc: the bytes of the edits since are in its charge.
    expect(await liveDocBytes(app)).toBeGreaterThan(earlyState.byteLength)
  })

  it('is rebuilt for each sync when it does not fit the budget', async () => {
    const app = await start({ liveDocBudgetBytes: 100 * 1024 })
    const writer = await join(app, 'big')
    writeBig(writer, 0, 40)
    const first = await join(app, 'big')
    writeBig(writer, 40, 2)
    const second = await join(app, 'big', Y.encodeStateAsUpdate(first.doc))
    const expected = writer.text()
    await waitFor(() => second.text() === expected && first.text() === expected, 5000, 'both converged')
    expect(await liveDocBytes(app)).toBe(0)
  })

  it('a live Y.Doc that outgrows what is left of the budget is dropped, and only its own charge is given back', async () => {
    const app = await start({ liveDocBudgetBytes: 1024 * 1024 })
    const fill = async (doc: string, count: number) => {
      const writer = await join(app, doc)
      const watcher = await join(app, doc)
      writeBig(writer, 0, count)
      await accepted(watcher, writer)
      await join(app, doc)
      return { writer, watcher }
    }
    const a = await fill('a', 40)
    const withA = await liveDocBytes(app)
    expect(withA).toBeGreaterThan(256 * 1024)
    await fill('b', 30)
    const bCharge = (await liveDocBytes(app)) - withA
    expect(bCharge).toBeGreaterThan(256 * 1024)
    // 'a' grows to ~900 KB: with 'b' holding ~300 KB it no longer fits the 1 MiB when a fresh device joins.
    writeBig(a.writer, 40, 50)
    await accepted(a.watcher, a.writer)
    await join(app, 'a')
    expect(await liveDocBytes(app)).toBe(bCharge)
  })

  it('drops the live Y.Doc once a compaction finds no device joined since the one before', async () => {
    // 41 updates stay under the threshold: the join rebuilds the document and keeps it.
    const app = await start({ compactMaxEntries: 100 })
    const writer = await join(app, 'big')
    const watcher = await join(app, 'big')
    writeBig(writer, 0, 40)
    writer.doc.getMap('m').set('after', 1)
    await accepted(watcher, writer)
    await join(app, 'big')
    expect(await liveDocBytes(app)).toBeGreaterThan(0)
    // More than 10x --compact-entries compacts regardless of size; two such rounds, nobody joining.
    const m = writer.doc.getMap('m')
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1010; i++) m.set(`k${i % 10}`, i)
      await new Promise(r => setTimeout(r, 100)) // pacing: the two rounds reach the server as separate batches
    }
    await waitFor(async () => (await liveDocBytes(app)) === 0, 5000, 'the live Y.Doc dropped')
  })
})
