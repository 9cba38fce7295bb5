import * as Y from 'yjs'
import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'

/**
 * A small patch language on a document's maps, for app backends:
 * `{ op: 'set', path: 'playback.position', value: 42 }` sets key `position` of the top-level map
 * `playback` (created if missing); `{ op: 'delete', path: 'preferences.theme' }` removes a key. A path
 * is a top-level map's name and then keys of nested maps, dot-separated; a key containing a dot cannot
 * be addressed (send a Yjs update instead). Values are JSON.
 */
export type PatchOp = { op: 'set', path: string, value: unknown } | { op: 'delete', path: string }

export const MAX_PATCH_OPS = 100

/**
 * Applies `ops` to `doc` in one transaction and returns the Yjs update that makes the change (what a
 * device editing the same keys would have sent), or null when nothing changed. Refuses a path through
 * something other than a map, before changing anything.
 */
export const patchUpdate = (doc: Y.Doc, ops: PatchOp[]): Uint8Array | null => {
  const before = Y.encodeStateVector(doc)
  const targets = ops.map(op => ({ op, ...resolve(doc, op.path) }))
  let changed = false
  doc.transact(() => {
    for (const { op, map, key } of targets) {
      if (op.op === 'set') { map.set(key, op.value); changed = true } else if (map.has(key)) { map.delete(key); changed = true }
    }
  })
  return changed ? Y.encodeStateAsUpdate(doc, before) : null
}

const resolve = (doc: Y.Doc, path: string): { map: Y.Map<unknown>, key: string } => {
  const parts = path.split('.')
  if (parts.length < 2 || parts.some(p => p === '')) throw new Failure(ErrorCode.invalidRequest, `path "${path}" must name a map and a key: <map>.<key>`)
  const top = parts[0]!
  const existing = doc.share.get(top)
  if (existing && !(existing instanceof Y.Map) && (existing._start !== null || existing instanceof Y.Array || existing instanceof Y.Text)) {
    throw new Failure(ErrorCode.invalidRequest, `"${top}" is not a map`)
  }
  let map = doc.getMap(top)
  for (let i = 1; i < parts.length - 1; i++) {
    const next = map.get(parts[i]!)
    if (!(next instanceof Y.Map)) throw new Failure(ErrorCode.invalidRequest, `"${parts.slice(0, i + 1).join('.')}" is not a map`)
    map = next
  }
  return { map, key: parts[parts.length - 1]! }
}
