/**
 * Browser profile store: one IndexedDB database per profile. The private key is a non-extractable
 * CryptoKey stored as is (CryptoKeys are structured-cloneable), so script can sign with it but never
 * read it. Tokens live here too, never in localStorage (readable by any script, synchronously).
 */
import type { TokenResponse } from '../shared/api.js'
import type { DeviceKey, ProfileStore } from './profile-store.js'
import { idbDelete, idbOpen, idbRequest } from './idb.js'

const KV = 'kv'

export class IdbProfileStore implements ProfileStore {
  readonly needsExtractableKey = false
  private db: Promise<IDBDatabase> | null = null

  constructor (readonly id = 'default') {}

  get dbName () { return `sync-sdk-profile:${this.id}` }

  private open (): Promise<IDBDatabase> {
    this.db ??= idbOpen(this.dbName, [KV]).then(db => {
      // Another tab deleting the profile (wipe) must not be blocked by our open connection.
      db.onversionchange = () => { db.close(); this.db = null }
      return db
    })
    return this.db
  }

  private async get<T> (key: string): Promise<T | null> {
    const db = await this.open()
    return (await idbRequest(db.transaction(KV).objectStore(KV).get(key)) as T | undefined) ?? null
  }

  private async put (key: string, value: unknown): Promise<void> {
    const db = await this.open()
    const tx = db.transaction(KV, 'readwrite')
    if (value === null) tx.objectStore(KV).delete(key)
    else tx.objectStore(KV).put(value, key)
    await new Promise<void>((resolve, reject) => { tx.oncomplete = () => resolve(); tx.onerror = () => reject(tx.error); tx.onabort = () => reject(tx.error) })
  }

  getKey () { return this.get<DeviceKey>('key') }
  setKey (key: DeviceKey) { return this.put('key', key) }
  getTokens () { return this.get<TokenResponse>('tokens') }
  setTokens (tokens: TokenResponse | null) { return this.put('tokens', tokens) }

  async wipe (): Promise<void> {
    if (this.db) { (await this.db).close(); this.db = null }
    await idbDelete(this.dbName)
  }
}
