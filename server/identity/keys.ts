import { randomBytes } from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose'
import { FileKeyStore } from './file-key-store.js'
import type { KeyStore, StoredKey } from './key-store.js'

/**
 * Ed25519 signing keys for access tokens, in a KeyStore (files in the data dir, or PostgreSQL).
 * The newest key signs; every key verifies, so rotation (`npm run keys:rotate`) never invalidates
 * tokens already issued. Keys retired longer ago than the longest token lifetime are pruned at rotation.
 */
export interface SigningKey { kid: string, createdAt: number, privateKey: CryptoKey, publicKey: CryptoKey, publicJwk: JWK }

/** An unknown `kid` re-reads the store at most this often (a forged kid must not cost a read each). */
const UNKNOWN_KID_REREAD_MS = 1000

const newKey = async (): Promise<StoredKey> => {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
  return { kid: randomBytes(9).toString('base64url'), createdAt: Date.now(), jwk: await exportJWK(privateKey) }
}

const toSigningKey = async (f: StoredKey): Promise<SigningKey> => {
  const { d: _private, ...publicJwk } = f.jwk
  return {
    kid: f.kid,
    createdAt: f.createdAt,
    privateKey: await importJWK({ ...f.jwk, alg: 'EdDSA' }, 'EdDSA') as CryptoKey,
    publicKey: await importJWK({ ...publicJwk, alg: 'EdDSA' }, 'EdDSA') as CryptoKey,
    publicJwk: { ...publicJwk, kid: f.kid, alg: 'EdDSA', use: 'sig' }
  }
}

const storeOf = (where: KeyStore | string): KeyStore => typeof where === 'string' ? new FileKeyStore(where) : where

export class KeyRing {
  private lastReread = 0
  private rereading: Promise<unknown> | null = null

  private constructor (private readonly store: KeyStore, private keys: SigningKey[]) {}

  /**
   * Loads the keys (a data dir means its key files), creating the first one in an empty store. An
   * empty store first takes the keys of `importFrom` (the data dir's files when a server moves to
   * PostgreSQL), so tokens already issued stay valid.
   */
  static async open (where: KeyStore | string, importFrom?: KeyStore): Promise<KeyRing> {
    const store = storeOf(where)
    let keys = await store.list()
    if (keys.length === 0) {
      const imported = importFrom ? await importFrom.list() : []
      for (const k of imported.length > 0 ? imported : [await newKey()]) await store.add(k)
      keys = await store.list()
    }
    return new KeyRing(store, await Promise.all(keys.map(toSigningKey)))
  }

  /** Re-reads the store (after `keys:rotate`, on SIGHUP or a cluster key event): the newest key signs from now on. */
  async reload (): Promise<{ active: string, keys: number }> {
    const stored = await this.store.list()
    if (stored.length > 0) this.keys = await Promise.all(stored.map(toSigningKey))
    return { active: this.active.kid, keys: this.keys.length }
  }

  get active (): SigningKey { return this.keys[this.keys.length - 1]! }
  byKid (kid: string | undefined): SigningKey | undefined { return this.keys.find(k => k.kid === kid) }

  /**
   * `byKid`, re-reading the store first when the kid is unknown: another node may sign with a key
   * rotated in after this one read the store. One re-read at a time, at most one per second.
   */
  async findKid (kid: string | undefined): Promise<SigningKey | undefined> {
    const known = this.byKid(kid)
    if (known || typeof kid !== 'string') return known
    if (!this.rereading && Date.now() - this.lastReread >= UNKNOWN_KID_REREAD_MS) {
      this.lastReread = Date.now()
      this.rereading = this.reload().catch(() => {}).finally(() => { this.rereading = null })
    }
    if (this.rereading) await this.rereading
    return this.byKid(kid)
  }

  jwks (): { keys: JWK[] } { return { keys: this.keys.map(k => k.publicJwk) } }
}

/**
 * Adds a new signing key (it signs once servers reload their keys) and deletes keys that stopped
 * signing more than `keepMs` ago: no unexpired token can carry their kid any more.
 */
export const rotateKeys = async (where: KeyStore | string, keepMs: number): Promise<{ added: string, removed: string[] }> => {
  const store = storeOf(where)
  const keys = await store.list()
  const added = await newKey()
  await store.add(added)
  const removed: string[] = []
  // Key i stopped signing when key i+1 was created.
  for (let i = 0; i < keys.length - 1; i++) {
    const [key, next] = [keys[i]!, keys[i + 1]!]
    if (Date.now() - next.createdAt > keepMs) {
      await store.remove(key.kid)
      removed.push(key.kid)
    }
  }
  return { added: added.kid, removed }
}
