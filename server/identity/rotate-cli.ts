import type { ServerConfig } from '../config.js'
import { createLogger } from '../observe/logger.js'
import { rotateKeys } from './keys.js'

/**
 * `keys:rotate`: adds a signing key where the server keeps them and prunes keys no token can carry
 * any more. With `--store level` the running server picks the key up on SIGHUP. With
 * `--store postgres` the key goes into the database; with `--redis-url` too, every node is told at
 * once to re-read the keys, and a node that sees a token signed by a key it does not know yet re-reads
 * them as well.
 */
export const rotateSigningKeys = async (config: ServerConfig): Promise<{ added: string, removed: string[], announced: boolean }> => {
  const keepMs = config.accessTokenTtlMs + 60_000
  if (config.store !== 'postgres') return { ...await rotateKeys(config.dataDir, keepMs), announced: false }
  const logger = createLogger('warn')
  const [{ createPool }, { migrate }, { PostgresKeyStore }, { FileKeyStore }, { KeyRing }] = await Promise.all([
    import('../storage/postgres/pool.js'), import('../storage/postgres/migrate.js'), import('../storage/postgres/key-store.js'),
    import('./file-key-store.js'), import('./keys.js')
  ])
  const pool = createPool(config.databaseUrl, logger, { max: 1 })
  let rotated: { added: string, removed: string[] }
  try {
    await migrate(pool, logger)
    const store = new PostgresKeyStore(pool)
    // A database without keys takes over the data dir's first, as a starting server would.
    await KeyRing.open(store, new FileKeyStore(config.dataDir))
    rotated = await rotateKeys(store, keepMs)
  } finally {
    await pool.end()
  }
  if (!config.redisUrl) return { ...rotated, announced: false }
  const [{ connectRedis }, { announceKeyChange }] = await Promise.all([import('../cluster/redis-connection.js'), import('../cluster/key-events.js')])
  const redis = connectRedis(config.redisUrl, 'keys-rotate', logger)
  try {
    await redis.connect()
    await announceKeyChange(redis, config.redisPrefix, rotated.added)
    return { ...rotated, announced: true }
  } catch {
    // The nodes still find the key when they meet a token signed by it, or on SIGHUP.
    return { ...rotated, announced: false }
  } finally {
    redis.disconnect()
  }
}
