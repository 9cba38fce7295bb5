import type { JWK } from 'jose'

/** A signing key as stored: its id, when it was made, and its private JWK. */
export interface StoredKey { kid: string, createdAt: number, jwk: JWK }

/**
 * Where the signing keys live: files in the data dir for one node (file-key-store.ts), a PostgreSQL
 * table with `--store postgres` (storage/postgres/key-store.ts), which every node of a cluster reads.
 */
export interface KeyStore {
  /** Every key, oldest first. */
  list (): Promise<StoredKey[]>
  add (key: StoredKey): Promise<void>
  remove (kid: string): Promise<void>
}
