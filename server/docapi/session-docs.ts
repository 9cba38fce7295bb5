import * as Y from 'yjs'
import { ErrorCode, sessionDocName } from '../../shared/api.js'
import { encodeUpdate, isEmptyUpdate } from '../../shared/protocol.js'
import { Failure } from '../errors.js'
import type { SessionStore } from '../storage/session-store.js'
import type { Rooms } from '../sync/rooms.js'
import { BUILT_DOC_GUID } from '../yjs/merge-updates.js'
import { docToJson } from './doc-json.js'
import { patchUpdate, type PatchOp } from './doc-patch.js'

export type SessionDocChange = { ops: PatchOp[] } | { update: Uint8Array }

/**
 * Users' session documents for app backends, through the same room as devices' edits: a change is
 * checked, stored, sent to the user's live devices and merges with offline edits like any device's.
 */
export class SessionDocs {
  constructor (private readonly store: SessionStore, private readonly rooms: () => Rooms) {}

  async read (userId: string): Promise<Record<string, unknown>> {
    return this.withRoom(userId, room => {
      const doc = this.build(room.diff(Uint8Array.of(0)))
      try { return docToJson(doc) } finally { doc.destroy() }
    })
  }

  /** Applies a patch (or a Yjs v1 update); resolves with the bytes of the update applied (0: no change). */
  async change (userId: string, change: SessionDocChange): Promise<number> {
    return this.withRoom(userId, room => {
      let update: Uint8Array | null
      if ('update' in change) {
        update = change.update
      } else {
        const doc = this.build(room.diff(Uint8Array.of(0)))
        try { update = patchUpdate(doc, change.ops) } finally { doc.destroy() }
      }
      if (!update || isEmptyUpdate(update)) return 0
      try {
        room.applyUpdate(update, undefined, encodeUpdate(update))
      } catch (err) {
        throw new Failure(ErrorCode.invalidRequest, `update refused: ${(err as Error).message}`)
      }
      return update.byteLength
    })
  }

  private build (state: Uint8Array): Y.Doc {
    const doc = new Y.Doc({ guid: BUILT_DOC_GUID, gc: true })
    Y.applyUpdate(doc, state)
    return doc
  }

  private async withRoom<T> (userId: string, fn: (room: Awaited<ReturnType<Rooms['acquire']>>) => T): Promise<T> {
    if (!await this.store.userById(userId)) throw new Failure(ErrorCode.notFound, 'no such user')
    const name = sessionDocName(userId)
    const rooms = this.rooms()
    const room = await rooms.acquire(name)
    try { return fn(room) } finally { rooms.release(name) }
  }
}
