/**
 * What a device pays to join a big document while another device edits it, with the room's live Y.Doc
 * (server/sync/room.ts, `--live-doc-budget-bytes`) and without it (budget 0). `npm run bench:big-doc`.
 *
 * For each size, one writer fills a document, then in each round makes 5 small edits and a returning
 * device (it holds the state of its previous visit) joins: the time from its socket opening to sync
 * step 2 is almost all the server's answer (a rebuild of the whole document without the live Y.Doc).
 * The server runs as `npm start` runs it, in its own process, with --insecure-no-auth: a login does not
 * change what the room does.
 */
import * as Y from 'yjs'
import { OURS_ENTRY, compileTargets } from './targets.js'
import { startChildServer } from '../../test/helpers/child-server.js'
import { RawClient } from '../../test/helpers/raw-client.js'
import { untilSynced } from './until-synced.js'
import { waitFor } from '../../test/helpers/server.js'
import { tempDir } from '../../test/helpers/server.js'

/** Map entries of 100 bytes, as preferences and task lists are kept: the rebuild's cost follows the number of entries. */
const SIZES = [2000, 10_000, 40_000]
const ROUNDS = 15
const PER_TRANSACTION = 500

const join = async (wsUrl: string, doc: string, state?: Uint8Array) => {
  const c = new RawClient(`${wsUrl}/${doc}`)
  if (state) Y.applyUpdate(c.doc, state, c)
  await c.opened
  return { c, ms: await untilSynced(c) }
}

await compileTargets()
const rows: string[][] = []
for (const budget of [0, 64 * 1024 * 1024]) {
  const server = await startChildServer(['--insecure-no-auth', '--data-dir', await tempDir(), '--live-doc-budget-bytes', String(budget)], {}, [OURS_ENTRY])
  try {
    for (const entries of SIZES) {
      const doc = `big-${entries}`
      const { c: writer } = await join(server.wsUrl, doc)
      const m = writer.doc.getMap('m')
      for (let i = 0; i < entries; i += PER_TRANSACTION) {
        writer.doc.transact(() => { for (let k = i; k < i + PER_TRANSACTION; k++) m.set(`key${k}`, String(k % 10).repeat(100)) })
      }
      let { c: device } = await join(server.wsUrl, doc)
      await waitFor(() => device.doc.getMap('m').size === entries, 30_000, 'first join')
      const times: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        const state = Y.encodeStateAsUpdate(device.doc)
        device.ws.terminate()
        for (let e = 0; e < 5; e++) m.set(`key${e}`, `round ${r}`)
        await new Promise(res => setTimeout(res, 20))
        const joined = await join(server.wsUrl, doc, state)
        device = joined.c
        times.push(joined.ms)
      }
      await waitFor(() => device.doc.getMap('m').get('key4') === `round ${ROUNDS - 1}`, 30_000, 'converged')
      device.ws.terminate(); writer.ws.terminate()
      times.sort((a, b) => a - b)
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      const liveMb = (Number(/^sync_live_doc_bytes (\S+)/m.exec(metrics)?.[1]) / 1e6).toFixed(2)
      rows.push([budget === 0 ? 'off (budget 0)' : 'on (budget 64 MiB)', `${entries} entries, ${(Y.encodeStateAsUpdate(writer.doc).byteLength / 1e6).toFixed(2)} MB`, times[Math.floor(ROUNDS / 2)]!.toFixed(1), times[ROUNDS - 1]!.toFixed(1), liveMb])
    }
  } finally {
    server.proc.kill('SIGTERM')
    await server.exited
  }
}
const head = ['live Y.Doc', 'document', 'join ms (median)', 'join ms (max)', 'live Y.Docs, MB encoded (documents so far)']
const width = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
console.log(`\nA returning device joins a document another device is editing (${ROUNDS} rounds each, 5 edits between joins):`)
for (const r of [head, head.map((_, i) => '-'.repeat(width[i]!)), ...rows]) console.log(r.map((v, i) => v.padEnd(width[i]!)).join('  '))
