import type pg from 'pg'
import type { KeyStore, StoredKey } from '../../identity/key-store.js'

/** Signing keys in `signing_keys` (migrations/005), read by every node on the database. */
export class PostgresKeyStore implements KeyStore {
  constructor (private readonly pool: pg.Pool) {}

  async list (): Promise<StoredKey[]> {
    const { rows } = await this.pool.query<{ kid: string, created_at: string, jwk: StoredKey['jwk'] }>(
      'SELECT kid, created_at, jwk FROM signing_keys ORDER BY created_at, kid')
    return rows.map(r => ({ kid: r.kid, createdAt: Number(r.created_at), jwk: r.jwk }))
  }

  /** A key already stored under the kid is left as it is (two nodes importing the same files). */
  async add (key: StoredKey): Promise<void> {
    await this.pool.query('INSERT INTO signing_keys (kid, created_at, jwk) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [key.kid, key.createdAt, JSON.stringify(key.jwk)])
  }

  async remove (kid: string): Promise<void> {
    await this.pool.query('DELETE FROM signing_keys WHERE kid = $1', [kid])
  }
}
