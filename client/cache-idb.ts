/**
 * Browser document cache: y-indexeddb, one database per (profile, document). y-indexeddb already
 * appends updates and trims its log, so this is only naming and wiping.
 */
import type * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import type { CachedDoc, DocCache } from './doc-cache.js'
import type { UnsyncedState } from './unsynced.js'
import { idbDelete } from './idb.js'

export class IdbDocCache implements DocCache {
  private readonly opened = new Map<IndexeddbPersistence, string>()
  private readonly names = new Set<string>()

  constructor (private readonly profileId: string) {}

  private prefix () { return `sync-sdk-doc:${this.profileId}:` }

  async open (name: string, doc: Y.Doc): Promise<CachedDoc> {
    const dbName = this.prefix() + name
    this.names.add(dbName)
    const p = new IndexeddbPersistence(dbName, doc)
    this.opened.set(p, dbName)
    await p.whenSynced
    return {
      origin: p,
      // y-indexeddb writes each update in its own transaction as it happens; nothing is buffered.
      flush: async () => {},
      // y-indexeddb's key-value store lives in the document's own database (wiped with it).
      loadUnsynced: async () => {
        const v: unknown = await p.get('unsynced')
        return typeof v === 'string' ? JSON.parse(v) as UnsyncedState : undefined
      },
      saveUnsynced: async (state: UnsyncedState) => { await p.set('unsynced', JSON.stringify(state)) },
      close: async () => { this.opened.delete(p); await p.destroy() }
    }
  }

  async close (): Promise<void> {
    for (const p of [...this.opened.keys()]) await p.destroy()
    this.opened.clear()
  }

  async wipe (): Promise<void> {
    await this.close()
    const all = new Set(this.names)
    // Also documents cached in earlier runs, where the factory can list databases.
    const listed = await indexedDB.databases?.().catch(() => []) ?? []
    for (const d of listed) if (d.name?.startsWith(this.prefix())) all.add(d.name)
    for (const n of all) await idbDelete(n)
  }
}
