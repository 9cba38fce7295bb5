/**
 * Node document cache in LevelDB under the profile directory. Each document is an append-only log
 * of updates `<docName>!<unique suffix>` (doc names never contain `!`), merged into one entry every
 * `compactEvery` writes and on open, so the log stays short without ever rewriting in place.
 * Several SDK instances of one profile may append to the same document: keys are unique per writer,
 * and a compaction deletes only the keys whose content its own Y.Doc is known to hold.
 */
import fs from 'node:fs/promises'
import * as Y from 'yjs'
import { Level } from 'level'
import type { CachedDoc, DocCache } from './doc-cache.js'
import type { UnsyncedState } from './unsynced.js'

type DB = Level<string, Uint8Array>

// LevelDB allows one open handle per directory, even within a process: share it between SDK
// instances of the same profile and close it when the last one lets go.
const handles = new Map<string, { db: DB, ready: Promise<void>, refs: number }>()

const acquire = async (dir: string): Promise<DB> => {
  let h = handles.get(dir)
  if (!h) {
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    h = { db, ready: fs.mkdir(dir, { recursive: true, mode: 0o700 }).then(() => db.open()), refs: 0 }
    handles.set(dir, h)
  }
  h.refs++
  await h.ready
  return h.db
}

const release = async (dir: string): Promise<void> => {
  const h = handles.get(dir)
  if (!h || --h.refs > 0) return
  handles.delete(dir)
  await h.db.close()
}

const SEP = '!'
// Outside every document's key range: document names start with a letter or digit, '~' sorts after them.
const unsyncedKey = (name: string) => `~unsynced~${name}`

export class LevelDocCache implements DocCache {
  private db: DB | null = null
  private readonly opened = new Set<LevelCachedDoc>()

  constructor (readonly dir: string, private readonly compactEvery = 200) {}

  async open (name: string, doc: Y.Doc): Promise<CachedDoc> {
    this.db ??= await acquire(this.dir)
    const entries = await this.db.iterator({ gte: name + SEP, lt: name + SEP + '~' }).all()
    const cached = new LevelCachedDoc(this.db, name, doc, entries, this.compactEvery, () => this.opened.delete(cached))
    this.opened.add(cached)
    return cached
  }

  async close (): Promise<void> {
    for (const d of [...this.opened]) await d.close()
    if (this.db) { this.db = null; await release(this.dir) }
  }

  async wipe (): Promise<void> {
    await this.close()
    // Another instance of this profile may still hold the shared handle; it is closed with the last one.
    if (!handles.has(this.dir)) await fs.rm(this.dir, { recursive: true, force: true })
  }
}

let writerCounter = 0

class LevelCachedDoc implements CachedDoc {
  readonly origin = this
  /** Unique per open document in this process; random so that other processes never collide. */
  private readonly writer = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}-${(writerCounter++).toString(36)}`
  private seq = 0
  /** Keys whose content is in `doc` (loaded at open or written by us): the ones a compaction may replace. */
  private readonly owned = new Set<string>()
  private sinceCompact: number
  /** Writes run strictly in order: a compaction must see every append queued before it. */
  private chain: Promise<void> = Promise.resolve()
  private closed = false

  constructor (private readonly db: DB, private readonly name: string, private readonly doc: Y.Doc,
    entries: [string, Uint8Array][], private readonly compactEvery: number, private readonly onClose: () => void) {
    for (const [k] of entries) this.owned.add(k)
    this.sinceCompact = entries.length
    if (entries.length) Y.applyUpdate(doc, Y.mergeUpdates(entries.map(([, v]) => v)), this)
    doc.on('update', this.onUpdate)
    if (entries.length > 1) this.compact()
  }

  private nextKey () { return `${this.name}${SEP}${this.writer}-${(this.seq++).toString(36).padStart(8, '0')}` }

  private enqueue (op: () => Promise<void>) {
    this.chain = this.chain.then(op).catch(err => { console.error(`[sync-sdk] cache write for ${this.name} failed`, err) })
  }

  private readonly onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this || this.closed) return
    const key = this.nextKey()
    this.owned.add(key)
    this.enqueue(() => this.db.put(key, update))
    if (++this.sinceCompact >= this.compactEvery) this.compact()
  }

  private compact () {
    this.sinceCompact = 1
    this.enqueue(async () => {
      // Captured when the op runs, after every earlier append: a superset of what it replaces.
      const state = Y.encodeStateAsUpdate(this.doc)
      const key = this.nextKey()
      const batch = this.db.batch()
      for (const k of this.owned) batch.del(k)
      batch.put(key, state)
      await batch.write()
      this.owned.clear()
      this.owned.add(key)
    })
  }

  flush (): Promise<void> { return this.chain }

  async loadUnsynced (): Promise<UnsyncedState | undefined> {
    const v = await this.db.get(unsyncedKey(this.name))
    return v ? JSON.parse(new TextDecoder().decode(v)) as UnsyncedState : undefined
  }

  saveUnsynced (state: UnsyncedState): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.enqueue(() => this.db.put(unsyncedKey(this.name), new TextEncoder().encode(JSON.stringify(state))))
    return this.chain
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.doc.off('update', this.onUpdate)
    this.closed = true
    await this.chain
    this.onClose()
  }
}
