/**
 * Session-state helpers over the user's private session document (`session:<userId>`): what
 * follows the user from device to device. Structures are chosen so concurrent edits from two devices
 * merge without losing either: entries a device owns are keyed by device id (no concurrent writes
 * to one key), list items are Y.Maps (fields update independently).
 */
import * as Y from 'yjs'

export interface Task { id: string, title: string, done: boolean }
export interface DraftEntry { id: string, docName: string, title: string, updatedAt: number }
export interface Playback { seconds: number, at: number, deviceId: string }
export interface LastActive { deviceId: string, deviceName: string, docName: string, cursor: unknown, at: number }

export interface SessionStateOptions {
  /** Stable per device profile (survives re-login), e.g. the device key's thumbprint. */
  deviceId: string
  deviceName: string
  /** Injectable clock for tests. */
  now?: () => number
}

const SEP = '\u0000'

export class SessionState {
  readonly preferences: Y.Map<unknown>
  readonly drafts: Y.Map<DraftEntry>
  readonly tasks: Y.Array<Y.Map<unknown>>
  /** `<mediaId>\0<deviceId>` → Playback: one slot per device, so no two devices write one key. */
  readonly playback: Y.Map<Playback>
  readonly lastActive: Y.Map<LastActive>
  private readonly now: () => number

  constructor (readonly doc: Y.Doc, private readonly opts: SessionStateOptions) {
    this.preferences = doc.getMap('preferences')
    this.drafts = doc.getMap('drafts')
    this.tasks = doc.getArray('tasks')
    this.playback = doc.getMap('playback')
    this.lastActive = doc.getMap('lastActive')
    this.now = opts.now ?? Date.now
  }

  // Preferences: plain last-writer-wins key/value.
  getPreference<T = unknown> (key: string): T | undefined { return this.preferences.get(key) as T | undefined }
  setPreference (key: string, value: unknown): void { this.preferences.set(key, value) }
  deletePreference (key: string): void { this.preferences.delete(key) }

  // Drafts index: which shared drafts the user works on, for a "recent drafts" list.
  upsertDraft (d: Omit<DraftEntry, 'updatedAt'> & { updatedAt?: number }): void {
    this.drafts.set(d.id, { ...d, updatedAt: d.updatedAt ?? this.now() })
  }

  removeDraft (id: string): void { this.drafts.delete(id) }
  listDrafts (): DraftEntry[] { return [...this.drafts.values()].sort((a, b) => b.updatedAt - a.updatedAt) }

  // Tasks: an ordered list; done/title edits on two devices both survive.
  addTask (title: string): string {
    const id = globalThis.crypto.randomUUID()
    this.tasks.push([new Y.Map<unknown>([['id', id], ['title', title], ['done', false]])])
    return id
  }

  private findTask (id: string): { index: number, map: Y.Map<unknown> } | null {
    const arr = this.tasks.toArray()
    const index = arr.findIndex(m => m.get('id') === id)
    return index < 0 ? null : { index, map: arr[index]! }
  }

  setTaskDone (id: string, done: boolean): void { this.findTask(id)?.map.set('done', done) }
  renameTask (id: string, title: string): void { this.findTask(id)?.map.set('title', title) }
  removeTask (id: string): void {
    const t = this.findTask(id)
    if (t) this.tasks.delete(t.index, 1)
  }

  listTasks (): Task[] {
    return this.tasks.toArray().map(m => ({ id: String(m.get('id')), title: String(m.get('title') ?? ''), done: m.get('done') === true }))
  }

  // Media playback: the newest position wins, whichever device wrote it.
  setPlayback (mediaId: string, seconds: number): void {
    const deviceId = this.opts.deviceId
    this.playback.set(mediaId + SEP + deviceId, { seconds, at: this.now(), deviceId })
  }

  getPlayback (mediaId: string): Playback | null {
    let best: Playback | null = null
    for (const [k, v] of this.playback.entries()) {
      if (!k.startsWith(mediaId + SEP)) continue
      // Ties on `at` resolve by device id so every device picks the same winner.
      if (!best || v.at > best.at || (v.at === best.at && v.deviceId > best.deviceId)) best = v
    }
    return best
  }

  // Per-device "last active" and "continue where you left off".
  setLastActive (docName: string, cursor: unknown = null): void {
    const { deviceId, deviceName } = this.opts
    this.lastActive.set(deviceId, { deviceId, deviceName, docName, cursor, at: this.now() })
  }

  /** The newest activity record from another device, or null. */
  continueWhereLeftOff (): LastActive | null {
    let best: LastActive | null = null
    for (const v of this.lastActive.values()) {
      if (v.deviceId === this.opts.deviceId) continue
      if (!best || v.at > best.at) best = v
    }
    return best
  }
}
