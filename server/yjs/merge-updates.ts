import * as Y from 'yjs'

/**
 * Merge Yjs updates (v1) into one, through a Y.Doc built for the moment: every update applied in one
 * transaction, then the document re-encoded, which also replaces deleted content by its length.
 *
 * Why not `Y.mergeUpdates`: it re-sorts its readers for every struct it writes, so its cost grows with
 * the square of the number of updates, and it keeps every overwritten value. Pending structs (an update
 * whose dependencies are missing) survive either way: `Y.encodeStateAsUpdate` includes them.
 *
 * Should Yjs throw on one of them (unreachable for updates that passed the server's check, which is
 * fuzz-tested for it), the bytes are merged by `Y.mergeUpdates` instead and `onError` is told.
 */
export const mergeUpdates = (updates: Uint8Array[], onError?: (err: Error) => void): Uint8Array => {
  if (updates.length === 1) return updates[0]!
  const built = buildDoc(updates, onError)
  built.doc?.destroy()
  return built.update
}

/**
 * A Y.Doc's guid only names it as a subdocument, which a built document never is. Given one, Yjs does
 * not draw a random UUID, which costs most of a `new Y.Doc()`.
 */
export const BUILT_DOC_GUID = 'session-sync:built'

/**
 * As `mergeUpdates`, and hands over the Y.Doc it built (null when Yjs threw and the bytes were merged
 * instead); the caller destroys it. A room may keep it to answer later syncs without a rebuild (room.ts).
 */
export const buildDoc = (updates: Uint8Array[], onError?: (err: Error) => void): { update: Uint8Array, doc: Y.Doc | null } => {
  const doc = new Y.Doc({ gc: true, guid: BUILT_DOC_GUID })
  try {
    Y.transact(doc, () => { for (const update of updates) Y.applyUpdate(doc, update) })
    return { update: Y.encodeStateAsUpdate(doc), doc }
  } catch (err) {
    doc.destroy()
    onError?.(err as Error)
    return { update: Y.mergeUpdates(updates), doc: null }
  }
}
