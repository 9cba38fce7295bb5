/**
 * Merges a document's snapshot and the updates logged after it by copying bytes, when they only
 * append: for each client, every update's structs start at the clock where that client's structs so
 * far end, and no logged update deletes anything. A Yjs v1 update is a run of structs per client
 * (count, client, first clock, structs) followed by a delete set, and Yjs reads a run struct by
 * struct, each at the clock where the one before ended; nothing else in the format links two structs.
 * So runs that continue each other concatenate into one run, and the result reads exactly as applying
 * the updates one after another would.
 *
 * Why: a compaction used to rebuild the whole document as a Y.Doc (merge-updates.ts) to re-encode it,
 * 50–70 ms for a document of 15,000 map entries (0.75 MB), and the objects it built made most of the
 * server's GC late in a long load run (README, Performance). Copying costs one walk of the structs
 * (update-check.ts, no allocation per struct) and one buffer.
 *
 * What a rebuild does that this does not: merge neighbouring structs of one client (typed characters)
 * into one, and replace deleted content by its length. Updates that delete refuse the fast path, and
 * the room still rebuilds every few compactions (room.ts), so neither is deferred for long.
 *
 * Returns null, and the caller rebuilds, whenever the updates do not simply append: a run that
 * overlaps what came before (a resent update) or leaves a gap (an update whose predecessors are
 * missing), a client that first appears at a clock other than 0 or twice in one update, a Skip, or a
 * delete set after the first update. The first update's own delete set is kept as it is.
 */
import { layoutOfUpdateV1, type UpdateLayout } from './update-check.js'

/** A client's merged run. It starts at clock 0: a client whose first run starts later refuses the fast path. */
interface MergedRun { client: number, end: number, structs: number, lastUpdate: number, pieces: { update: Uint8Array, from: number, to: number }[] }

// lib0's varUint, written into one buffer sized up front: lib0's Encoder grows in chunks and copies
// them all again in toUint8Array, a second pass over a document of a megabyte.
const varUintLength = (n: number): number => {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

const writeVarUint = (out: Uint8Array, at: number, n: number): number => {
  while (n >= 0x80) { out[at++] = (n % 128) | 0x80; n = Math.floor(n / 128) }
  out[at++] = n
  return at
}

export const appendMerge = (updates: Uint8Array[]): Uint8Array | null => {
  if (updates.length === 0) return null
  const runs = new Map<number, MergedRun>()
  let base: UpdateLayout | null = null
  for (let i = 0; i < updates.length; i++) {
    const update = updates[i]!
    let layout: UpdateLayout
    try { layout = layoutOfUpdateV1(update) } catch { return null }
    if (layout.hasSkip || (i > 0 && !layout.deleteSetEmpty)) return null
    if (i === 0) base = layout
    for (const run of layout.runs) {
      if (run.structs === 0) continue
      const merged = runs.get(run.client)
      if (!merged) {
        if (run.clock !== 0) return null
        runs.set(run.client, { client: run.client, end: run.end, structs: run.structs, lastUpdate: i, pieces: [{ update, from: run.from, to: run.to }] })
      } else {
        // Yjs keeps only the last run of a client that appears twice in one update (a Map per client):
        // only a crafted update does that, and the rebuild does as Yjs does.
        if (run.clock !== merged.end || merged.lastUpdate === i) return null
        merged.lastUpdate = i
        merged.end = run.end
        merged.structs += run.structs
        merged.pieces.push({ update, from: run.from, to: run.to })
      }
    }
  }
  // Measure, then write once.
  let size = varUintLength(runs.size)
  for (const run of runs.values()) {
    size += varUintLength(run.structs) + varUintLength(run.client) + 1 // first clock: 0
    for (const p of run.pieces) size += p.to - p.from
  }
  const deleteSet = base!.deleteSetEmpty ? null : updates[0]!.subarray(base!.deleteSetFrom, base!.deleteSetTo)
  size += deleteSet ? deleteSet.byteLength : 1
  const out = new Uint8Array(size)
  let at = writeVarUint(out, 0, runs.size)
  for (const run of runs.values()) {
    at = writeVarUint(out, at, run.structs)
    at = writeVarUint(out, at, run.client)
    out[at++] = 0 // first clock
    for (const p of run.pieces) { out.set(p.update.subarray(p.from, p.to), at); at += p.to - p.from }
  }
  if (deleteSet) out.set(deleteSet, at)
  else out[at] = 0 // an empty delete set: no clients
  return out
}
