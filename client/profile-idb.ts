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

  /**
   * Set by `wipe` until something is written again: reads find nothing and deletes have nothing to
   * delete, without opening (and so re-creating) the database. A sign-out that clears the tokens
   * while the wipe runs would otherwise leave an empty profile database behind.
   */
  private wiped = false

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
    if (this.wiped) return null
    const db = await this.open()
    return (await idbRequest(db.transaction(KV).objectStore(KV).get(key)) as T | undefined) ?? null
  }

  private async put (key: string, value: unknown): Promise<void> {
    if (value === null && this.wiped) return
    this.wiped = false
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
    this.wiped = true
    if (this.db) { (await this.db).close(); this.db = null }
    await idbDelete(this.dbName)
  }
}
