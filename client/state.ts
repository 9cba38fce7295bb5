/**
 * Typed session state over the user's private session document (`session:<userId>`): what follows
 * the user from device to device. Structures are chosen so that concurrent edits from two devices
 * merge without losing either: entries a device owns are keyed by device id (no concurrent writes to
 * one key), list items are Y.Maps (their fields update independently), everything else is
 * last-writer-wins per key, the same winner on every device.
 *
 * Anything in the document may have been written by another device running another version of the
 * app: reads check shapes, and `preferenceGuards` let the app reject values it does not understand.
 */
import * as Y from 'yjs'

export interface Task { id: string, title: string, done: boolean }
/** One entry of the "recent documents" index: which documents the user works on. */
export interface DraftEntry { id: string, docName: string, title: string, updatedAt: number }
/** `deviceName`: the writing device's name, when it gave one ("continue watching … on Laptop"). */
export interface Playback { seconds: number, at: number, deviceId: string, deviceName?: string }
export interface LastActive { deviceId: string, deviceName: string, docName: string, cursor: unknown, at: number }

/** Per preference, a check of values read back; a value that fails it reads as missing. */
export type PreferenceGuards<Prefs extends object> = { [K in keyof Prefs]?: (value: unknown) => boolean }

export interface SessionStateOptions<Prefs extends object = Record<string, unknown>> {
  /** Stable per device profile (survives re-login), e.g. `SyncClient.deviceId()`. */
  deviceId: string
  deviceName: string
  /** Injectable clock for tests. */
  now?: () => number
  preferenceGuards?: PreferenceGuards<Prefs>
}

/** The top-level shared types of the session document, by name (apps may add their own beside them). */
export const SESSION_STATE_KEYS = { preferences: 'preferences', drafts: 'drafts', tasks: 'tasks', playback: 'playback', lastActive: 'lastActive' } as const

const SEP = '\u0000'

type Key<Prefs> = keyof Prefs & string

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isString = (v: unknown): v is string => typeof v === 'string'
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const asDraft = (v: unknown): DraftEntry | null =>
  isRecord(v) && isString(v.id) && isString(v.docName) && isString(v.title) && isNumber(v.updatedAt) ? v as unknown as DraftEntry : null
const asPlayback = (v: unknown): Playback | null =>
  isRecord(v) && isNumber(v.seconds) && isNumber(v.at) && isString(v.deviceId) ? v as unknown as Playback : null
const asLastActive = (v: unknown): LastActive | null =>
  isRecord(v) && isString(v.deviceId) && isString(v.deviceName) && isString(v.docName) && isNumber(v.at) ? v as unknown as LastActive : null

/**
 * `Prefs` types the preferences: `SessionState<{ theme: 'light' | 'dark', fontSize: number }>`.
 * Values must be JSON-like (what a Y.Map stores: JSON values and Uint8Array).
 */
export class SessionState<Prefs extends object = Record<string, unknown>> {
  readonly preferences: Y.Map<unknown>
  /** Document id → DraftEntry. */
  readonly drafts: Y.Map<unknown>
  /** Y.Maps with `id`, `title`, `done` and `order` (the list sorts by it: see moveTask). */
  readonly tasks: Y.Array<Y.Map<unknown>>
  /** `<mediaId>\0<deviceId>` → Playback: one slot per device, so no two devices write one key. */
  readonly playback: Y.Map<unknown>
  /** Device id → LastActive, written only by that device. */
  readonly lastActive: Y.Map<unknown>
  private readonly now: () => number
  private readonly guards: PreferenceGuards<Prefs>

  constructor (readonly doc: Y.Doc, private readonly opts: SessionStateOptions<Prefs>) {
    this.preferences = doc.getMap(SESSION_STATE_KEYS.preferences)
    this.drafts = doc.getMap(SESSION_STATE_KEYS.drafts)
    this.tasks = doc.getArray(SESSION_STATE_KEYS.tasks)
    this.playback = doc.getMap(SESSION_STATE_KEYS.playback)
    this.lastActive = doc.getMap(SESSION_STATE_KEYS.lastActive)
    this.now = opts.now ?? Date.now
    this.guards = opts.preferenceGuards ?? {}
  }

  get deviceId (): string { return this.opts.deviceId }

  /**
   * Calls `fn` once per transaction that changed any of the session state (this device's edits:
   * `local` true; another device's, arriving over sync or from the cache: false). Returns an unsubscribe.
   */
  onChange (fn: (change: { local: boolean }) => void): () => void {
    const types = new Set<unknown>([this.preferences, this.drafts, this.tasks, this.playback, this.lastActive])
    const handler = (tr: Y.Transaction) => {
      // Holds every top-level type with a change anywhere below it.
      for (const t of tr.changedParentTypes.keys()) if (types.has(t)) { fn({ local: tr.local }); return }
    }
    this.doc.on('afterTransaction', handler)
    return () => this.doc.off('afterTransaction', handler)
  }

  // Preferences: last writer wins per key.

  /** The stored value, or undefined when missing or rejected by its guard. */
  getPreference<K extends Key<Prefs>> (key: K): Prefs[K] | undefined {
    if (!this.preferences.has(key)) return undefined
    const v = this.preferences.get(key)
    const guard: ((value: unknown) => boolean) | undefined = this.guards[key]
    return guard && !guard(v) ? undefined : v as Prefs[K]
  }

  /** Every preference of `defaults`, stored values where they pass their guards. */
  getPreferences (defaults: Prefs): Prefs {
    const out = { ...defaults }
    for (const key of Object.keys(defaults) as Array<Key<Prefs>>) {
      const v = this.getPreference(key)
      if (v !== undefined) out[key] = v
    }
    return out
  }

  setPreference<K extends Key<Prefs>> (key: K, value: Prefs[K]): void { this.preferences.set(key, value) }

  /** Several preferences in one transaction: other devices see them change together. */
  setPreferences (values: Partial<Prefs>): void {
    this.doc.transact(() => {
      for (const [k, v] of Object.entries(values)) if (v !== undefined) this.preferences.set(k, v)
    })
  }

  deletePreference (key: Key<Prefs>): void { this.preferences.delete(key) }

  // Recent documents index.

  upsertDraft (d: Omit<DraftEntry, 'updatedAt'> & { updatedAt?: number }): void {
    this.drafts.set(d.id, { id: d.id, docName: d.docName, title: d.title, updatedAt: d.updatedAt ?? this.now() })
  }

  removeDraft (id: string): void { this.drafts.delete(id) }

  /** Newest first. */
  listDrafts (): DraftEntry[] {
    const out: DraftEntry[] = []
    for (const v of this.drafts.values()) { const d = asDraft(v); if (d) out.push(d) }
    return out.sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1))
  }

  // Tasks: an ordered list; title and done edited on two devices both survive.

  /** Appends at the end of the list. */
  addTask (title: string): string {
    const id = globalThis.crypto.randomUUID()
    const last = this.orderedTasks().at(-1)
    const order = last ? last.order + 1 : 0
    this.tasks.push([new Y.Map<unknown>([['id', id], ['title', title], ['done', false], ['order', order]])])
    return id
  }

  private findTask (id: string): { index: number, map: Y.Map<unknown> } | null {
    const arr = this.tasks.toArray()
    const index = arr.findIndex(m => m instanceof Y.Map && m.get('id') === id)
    return index < 0 ? null : { index, map: arr[index]! }
  }

  setTaskDone (id: string, done: boolean): void { this.findTask(id)?.map.set('done', done) }
  renameTask (id: string, title: string): void { this.findTask(id)?.map.set('title', title) }
  removeTask (id: string): void {
    const t = this.findTask(id)
    if (t) this.tasks.delete(t.index, 1)
  }

  /**
   * Move a task to `toIndex` of the list (clamped). Order is a number per task (`order`), so a move
   * is one field write: a concurrent rename or done on another device survives it, and two devices
   * moving one task converge on one place.
   */
  moveTask (id: string, toIndex: number): void {
    const list = this.orderedTasks()
    const from = list.findIndex(t => t.id === id)
    if (from < 0) return
    const [moved] = list.splice(from, 1)
    const to = Math.max(0, Math.min(Math.trunc(toIndex), list.length))
    if (to === from) return
    const prev = list[to - 1]?.order
    const next = list[to]?.order
    const order = prev !== undefined && next !== undefined ? (prev + next) / 2 : prev !== undefined ? prev + 1 : next !== undefined ? next - 1 : 0
    if (prev !== undefined && next !== undefined && !(order > prev && order < next)) {
      // No number left between the neighbours: renumber the whole list, in one transaction.
      list.splice(to, 0, moved!)
      this.doc.transact(() => list.forEach((t, i) => t.map.set('order', i)))
      return
    }
    moved!.map.set('order', order)
  }

  /** Valid tasks sorted by `order` (tasks without one: their position), ties by position; first copy of an id wins. */
  private orderedTasks (): Array<{ id: string, map: Y.Map<unknown>, order: number }> {
    const seen = new Set<string>()
    const out: Array<{ id: string, map: Y.Map<unknown>, order: number, index: number }> = []
    this.tasks.toArray().forEach((m, index) => {
      if (!(m instanceof Y.Map)) return
      const id = m.get('id')
      if (!isString(id) || seen.has(id)) return
      seen.add(id)
      const o = m.get('order')
      out.push({ id, map: m, order: isNumber(o) ? o : index, index })
    })
    return out.sort((a, b) => a.order - b.order || a.index - b.index)
  }

  listTasks (): Task[] {
    return this.orderedTasks().map(({ id, map }) => ({ id, title: String(map.get('title') ?? ''), done: map.get('done') === true }))
  }

  // Media playback: the newest position wins, whichever device wrote it.

  setPlayback (mediaId: string, seconds: number): void {
    const { deviceId, deviceName } = this.opts
    this.playback.set(mediaId + SEP + deviceId, { seconds, at: this.now(), deviceId, deviceName })
  }

  getPlayback (mediaId: string): Playback | null {
    let best: Playback | null = null
    for (const [k, raw] of this.playback.entries()) {
      const v = asPlayback(raw)
      if (!v || !k.startsWith(mediaId + SEP)) continue
      // Ties on `at` resolve by device id so that every device picks the same winner.
      if (!best || v.at > best.at || (v.at === best.at && v.deviceId > best.deviceId)) best = v
    }
    return best
  }

  // Per-device "last active" and "continue where you left off".

  /** `cursor`: any JSON-like position in the document (e.g. a Yjs relative position as JSON). */
  setLastActive (docName: string, cursor: unknown = null): void {
    const { deviceId, deviceName } = this.opts
    this.lastActive.set(deviceId, { deviceId, deviceName, docName, cursor, at: this.now() })
  }

  /** This device's own record, or null. */
  getLastActive (): LastActive | null { return asLastActive(this.lastActive.get(this.opts.deviceId)) }

  /** The newest activity record from another device, or null. */
  continueWhereLeftOff (): LastActive | null {
    let best: LastActive | null = null
    for (const raw of this.lastActive.values()) {
      const v = asLastActive(raw)
      if (!v || v.deviceId === this.opts.deviceId) continue
      if (!best || v.at > best.at || (v.at === best.at && v.deviceId > best.deviceId)) best = v
    }
    return best
  }
}
