import { decodeProtectedHeader } from 'jose'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../server/config.js'
import { FileKeyStore } from '../../server/identity/file-key-store.js'
import { KeyRing, rotateKeys } from '../../server/identity/keys.js'
import { rotateSigningKeys } from '../../server/identity/rotate-cli.js'
import { PostgresKeyStore } from '../../server/storage/postgres/key-store.js'
import { migrate } from '../../server/storage/postgres/migrate.js'
import { createLogger } from '../../server/observe/logger.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL, type Node } from './nodes.js'

const cluster = clusterFixtures()

const kids = async (node: Node): Promise<string[]> => {
  const jwks = await (await fetch(`${node.url}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> }
  return jwks.keys.map(k => k.kid)
}
const kidOf = (token: string) => decodeProtectedHeader(token).kid

describe('cluster: signing keys in PostgreSQL', () => {
  it('nodes with their own data dirs verify each other\'s tokens; keys:rotate reaches every node through Redis', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    expect(a.config.dataDir).not.toBe(b.config.dataDir)
    expect(await kids(b)).toEqual(await kids(a))
    const d = await ClusterDevice.signedIn(a.url)
    d.baseUrl = b.url
    expect((await d.api('GET', '/sessions')).status).toBe(200)

    // The command as an operator runs it, from any machine with the cluster's settings.
    const config = loadConfig(['--store', 'postgres', '--database-url', cluster.db.url, '--redis-url', REDIS_URL, '--redis-prefix', redisPrefix, '--data-dir', await tempDir()], {})
    const rotated = await rotateSigningKeys(config)
    expect(rotated).toMatchObject({ announced: true, removed: [] })
    for (const node of [a, b]) await waitFor(async () => (await kids(node)).includes(rotated.added), 10_000, 'every node to publish the new key')
    // Both sign with it now, and each accepts the other's tokens.
    for (const [signer, verifier] of [[a, b], [b, a]] as const) {
      d.baseUrl = signer.url
      expect((await d.refresh()).status).toBe(200)
      expect(kidOf(d.tokens.accessToken)).toBe(rotated.added)
      d.baseUrl = verifier.url
      expect((await d.api('GET', '/sessions')).status).toBe(200)
    }
  })

  it('a node that meets a token signed by a key it has not read yet re-reads the keys', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const d = await ClusterDevice.signedIn(a.url)
    const pool = new pg.Pool({ connectionString: cluster.db.url, max: 1 })
    let added: string
    try {
      added = (await rotateKeys(new PostgresKeyStore(pool), 60 * 60_000)).added
    } finally {
      await pool.end()
    }
    // Only A is told (SIGHUP); B has no Redis to hear of it.
    expect((await a.identity!.reloadKeys()).active).toBe(added)
    expect((await d.refresh()).status).toBe(200)
    expect(kidOf(d.tokens.accessToken)).toBe(added)
    expect(await kids(b)).not.toContain(added)
    d.baseUrl = b.url
    expect((await d.api('GET', '/sessions')).status).toBe(200)
    expect(await kids(b)).toContain(added)
    // A kid that exists nowhere is still refused.
    const [, body, sig] = d.tokens.accessToken.split('.')
    const forged = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'no-such-key', typ: 'at+jwt' })).toString('base64url')}.${body}.${sig}`
    expect((await d.api('GET', '/sessions', undefined, forged)).status).toBe(401)
  })

  it('an empty key table takes over the data dir\'s key files, so issued tokens stay valid', async () => {
    const dataDir = await tempDir()
    const first = await rotateKeys(dataDir, 60 * 60_000)
    const files = new FileKeyStore(dataDir)
    const pool = new pg.Pool({ connectionString: cluster.db.url, max: 1 })
    try {
      await migrate(pool, createLogger('silent'))
      await pool.query('DELETE FROM signing_keys')
      const ring = await KeyRing.open(new PostgresKeyStore(pool), files)
      expect(ring.active.kid).toBe(first.added)
      expect((await new PostgresKeyStore(pool).list()).map(k => k.kid)).toEqual((await files.list()).map(k => k.kid))
    } finally {
      await pool.end()
    }
  })
})
