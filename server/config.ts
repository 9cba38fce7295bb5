import { parseArgs } from 'node:util'
import path from 'node:path'
import { proxyTrust } from './transport/client-ip.js'
import { parsePolicy } from './anomaly/policy.js'

/** Every setting, its CLI flag, environment variable and default. README's table mirrors this. */
export interface ServerConfig {
  host: string
  port: number
  dataDir: string
  store: 'level' | 'postgres'
  databaseUrl: string
  redisUrl: string
  redisPrefix: string
  logLevel: string
  insecureNoAuth: boolean
  maxMessageBytes: number
  maxBufferedBytes: number
  pingIntervalMs: number
  unloadGraceMs: number
  flushIntervalMs: number
  maxBatchOps: number
  fsync: boolean
  compactMaxEntries: number
  compactMaxBytes: number
  presenceTimeoutMs: number
  liveDocBudgetBytes: number
  shutdownTimeoutMs: number
  accessTokenTtlMs: number
  sessionPolicy: string
  idleTimeoutMs: number
  absoluteLifetimeMs: number
  refreshGraceMs: number
  publicUrl: string
  trustedProxies: string
  loginAttemptsPerAccount: number
  loginAttemptsPerIp: number
  registrationsPerIp: number
  memberAddsPerHour: number
  retentionDays: number
  exportsPerHour: number
  corsOrigins: string
  deviceCodeTtlMs: number
  deviceCodesPerIp: number
  userCodeAttempts: number
  verificationUri: string
  rpId: string
  rpName: string
  webhookUrl: string
  webhookSecret: string
  webhookRetryMs: number
  hookDebounceMs: number
  anomalyPolicy: string
  geoip: boolean
  handoffWindowMs: number
  analyticsRetentionDays: number
  analyticsFlushMs: number
}

interface Setting { flag: string, env: string, kind: 'string' | 'int' | 'bool', def: string | number | boolean, help: string }

export const SETTINGS: Record<keyof ServerConfig, Setting> = {
  host: { flag: 'host', env: 'SYNC_HOST', kind: 'string', def: '127.0.0.1', help: 'interface to listen on' },
  port: { flag: 'port', env: 'SYNC_PORT', kind: 'int', def: 4321, help: 'TCP port (0 = any free port)' },
  dataDir: { flag: 'data-dir', env: 'SYNC_DATA_DIR', kind: 'string', def: './data', help: 'directory of the LevelDB database (--store level) and the token signing keys' },
  store: { flag: 'store', env: 'SYNC_STORE', kind: 'string', def: 'level', help: 'where documents and accounts live: level (LevelDB in --data-dir) or postgres (--database-url)' },
  databaseUrl: { flag: 'database-url', env: 'SYNC_DATABASE_URL', kind: 'string', def: '', help: 'PostgreSQL URL for --store postgres (postgres://user:password@host:5432/db); DATABASE_URL is read too' },
  redisUrl: { flag: 'redis-url', env: 'SYNC_REDIS_URL', kind: 'string', def: '', help: 'cluster mode (needs --store postgres): Redis URL (redis://host:6379) through which the nodes share document updates, session events, rate limits, used DPoP proofs and online counts' },
  redisPrefix: { flag: 'redis-prefix', env: 'SYNC_REDIS_PREFIX', kind: 'string', def: 'sync:', help: 'prefix of every Redis key this cluster uses' },
  logLevel: { flag: 'log-level', env: 'SYNC_LOG_LEVEL', kind: 'string', def: 'info', help: 'pino level: trace … fatal, silent' },
  insecureNoAuth: { flag: 'insecure-no-auth', env: 'SYNC_INSECURE_NO_AUTH', kind: 'bool', def: false, help: 'DEVELOPMENT ONLY: accept every socket with write access' },
  maxMessageBytes: { flag: 'max-message-bytes', env: 'SYNC_MAX_MESSAGE_BYTES', kind: 'int', def: 1024 * 1024, help: 'largest accepted message (close 1009 above it)' },
  maxBufferedBytes: { flag: 'max-buffered-bytes', env: 'SYNC_MAX_BUFFERED_BYTES', kind: 'int', def: 8 * 1024 * 1024, help: 'per-socket limit of unsent data, pongs included (close 4408 above it)' },
  pingIntervalMs: { flag: 'ping-interval-ms', env: 'SYNC_PING_INTERVAL_MS', kind: 'int', def: 30_000, help: 'ping every socket this often; one that has not answered by the next ping is dropped (dead peer). 0 = off' },
  unloadGraceMs: { flag: 'unload-grace-ms', env: 'SYNC_UNLOAD_GRACE_MS', kind: 'int', def: 30_000, help: 'keep a document loaded this long after its last connection' },
  flushIntervalMs: { flag: 'flush-ms', env: 'SYNC_FLUSH_MS', kind: 'int', def: 10, help: 'storage batch window: updates are on disk within this many ms' },
  maxBatchOps: { flag: 'max-batch-ops', env: 'SYNC_MAX_BATCH_OPS', kind: 'int', def: 5000, help: 'write a batch early at this many queued operations' },
  fsync: { flag: 'fsync', env: 'SYNC_FSYNC', kind: 'bool', def: false, help: 'fsync every batch (survive power loss, slower)' },
  compactMaxEntries: { flag: 'compact-entries', env: 'SYNC_COMPACT_ENTRIES', kind: 'int', def: 1000, help: 'compact a document log past this many updates' },
  compactMaxBytes: { flag: 'compact-bytes', env: 'SYNC_COMPACT_BYTES', kind: 'int', def: 4 * 1024 * 1024, help: 'compact a document log past this many bytes' },
  presenceTimeoutMs: { flag: 'presence-timeout-ms', env: 'SYNC_PRESENCE_TIMEOUT_MS', kind: 'int', def: 30_000, help: 'cluster mode: presence (awareness) of a device on another node that is not renewed for this long is removed (its node died)' },
  liveDocBudgetBytes: { flag: 'live-doc-budget-bytes', env: 'SYNC_LIVE_DOC_BUDGET_BYTES', kind: 'int', def: 4 * 1024 * 1024, help: 'documents of 256 KB or more that devices join while they are edited may keep a live Y.Doc, up to this many encoded bytes in all (a live Y.Doc holds 4-6x its encoded size in heap). 0 = off' },
  shutdownTimeoutMs: { flag: 'shutdown-timeout-ms', env: 'SYNC_SHUTDOWN_TIMEOUT_MS', kind: 'int', def: 10_000, help: 'force exit if graceful shutdown takes longer' },
  accessTokenTtlMs: { flag: 'access-token-ttl-ms', env: 'SYNC_ACCESS_TOKEN_TTL_MS', kind: 'int', def: 10 * 60_000, help: 'access token (JWT) lifetime' },
  sessionPolicy: { flag: 'session-policy', env: 'SYNC_SESSION_POLICY', kind: 'string', def: 'standard', help: 'device-session expiry preset: standard (30 d idle, 90 d absolute) or strict (15 min idle, 12 h absolute)' },
  idleTimeoutMs: { flag: 'idle-timeout-ms', env: 'SYNC_IDLE_TIMEOUT_MS', kind: 'int', def: 0, help: 'override the preset: end a device session after this long without use (0 = preset)' },
  absoluteLifetimeMs: { flag: 'absolute-lifetime-ms', env: 'SYNC_ABSOLUTE_LIFETIME_MS', kind: 'int', def: 0, help: 'override the preset: end a device session this long after sign-in (0 = preset)' },
  refreshGraceMs: { flag: 'refresh-grace-ms', env: 'SYNC_REFRESH_GRACE_MS', kind: 'int', def: 30_000, help: 'a just-rotated refresh token may be retried (same device key) this long and gets the same successor' },
  publicUrl: { flag: 'public-url', env: 'SYNC_PUBLIC_URL', kind: 'string', def: '', help: 'external origin (https://sync.example.com) DPoP proofs and browser Origin headers are checked against; default: the request\'s own scheme and Host header' },
  trustedProxies: { flag: 'trusted-proxies', env: 'SYNC_TRUSTED_PROXIES', kind: 'string', def: '', help: 'proxies in front of the server whose X-Forwarded-For entries are believed, counted from the right: a number of hops, or a comma-separated list of proxy addresses/CIDRs (loopback, 10.0.0.0/8). Default: 1 with --public-url, else 0 (X-Forwarded-For ignored)' },
  loginAttemptsPerAccount: { flag: 'login-attempts-per-account', env: 'SYNC_LOGIN_ATTEMPTS_PER_ACCOUNT', kind: 'int', def: 10, help: 'failed login/MFA/password attempts per account per 15 min before 429' },
  corsOrigins: { flag: 'cors-origins', env: 'SYNC_CORS_ORIGINS', kind: 'string', def: '', help: 'comma-separated origins (https://app.example.com) whose browser apps may call the HTTP API and open sync sockets; empty = same origin only' },
  loginAttemptsPerIp: { flag: 'login-attempts-per-ip', env: 'SYNC_LOGIN_ATTEMPTS_PER_IP', kind: 'int', def: 100, help: 'failed login/MFA/refresh attempts per IP per 15 min before 429' },
  registrationsPerIp: { flag: 'registrations-per-ip', env: 'SYNC_REGISTRATIONS_PER_IP', kind: 'int', def: 10, help: 'registration attempts per IP per hour before 429; each one counts, a taken email included, so accounts cannot be enumerated fast' },
  retentionDays: { flag: 'retention-days', env: 'SYNC_RETENTION_DAYS', kind: 'int', def: 90, help: 'keep security events and device-session IP addresses this many days, then delete them (an hourly sweep)' },
  exportsPerHour: { flag: 'exports-per-hour', env: 'SYNC_EXPORTS_PER_HOUR', kind: 'int', def: 6, help: 'account exports (GET /me/export) per user per hour before 429' },
  memberAddsPerHour: { flag: 'member-adds-per-hour', env: 'SYNC_MEMBER_ADDS_PER_HOUR', kind: 'int', def: 30, help: 'draft shares by email (POST /docs/:id/members) per user and per IP per hour before 429; each answers whether an email has an account' },
  deviceCodeTtlMs: { flag: 'device-code-ttl-ms', env: 'SYNC_DEVICE_CODE_TTL_MS', kind: 'int', def: 10 * 60_000, help: 'a pairing code (device and user code) expires this long after the new device asked for it' },
  deviceCodesPerIp: { flag: 'device-codes-per-ip', env: 'SYNC_DEVICE_CODES_PER_IP', kind: 'int', def: 30, help: 'pairing codes new devices may ask for per IP per hour before 429' },
  userCodeAttempts: { flag: 'user-code-attempts', env: 'SYNC_USER_CODE_ATTEMPTS', kind: 'int', def: 10, help: 'wrong pairing codes entered per account and per IP per 15 min before 429 (unknown device codes count for the IP too)' },
  verificationUri: { flag: 'verification-uri', env: 'SYNC_VERIFICATION_URI', kind: 'string', def: '', help: 'the page where a signed-in device enters a pairing code; default: <public origin>/device' },
  rpId: { flag: 'rp-id', env: 'SYNC_RP_ID', kind: 'string', def: '', help: 'WebAuthn relying party ID passkeys are bound to (a domain, e.g. example.com); default: the host of --public-url, else of the request' },
  rpName: { flag: 'rp-name', env: 'SYNC_RP_NAME', kind: 'string', def: 'Session Sync', help: 'the name passkey prompts show for this service' },
  webhookUrl: { flag: 'webhook-url', env: 'SYNC_WEBHOOK_URL', kind: 'string', def: '', help: 'POST document changes, session starts/ends and security events as signed JSON to this http(s) URL (needs --webhook-secret)' },
  webhookSecret: { flag: 'webhook-secret', env: 'SYNC_WEBHOOK_SECRET', kind: 'string', def: '', help: 'HMAC-SHA256 key of the webhook-signature header (at least 16 characters)' },
  webhookRetryMs: { flag: 'webhook-retry-ms', env: 'SYNC_WEBHOOK_RETRY_MS', kind: 'int', def: 1000, help: 'first webhook retry after this long, doubling up to 60 s; 6 attempts in all' },
  hookDebounceMs: { flag: 'hook-debounce-ms', env: 'SYNC_HOOK_DEBOUNCE_MS', kind: 'int', def: 1000, help: 'document-change hooks and webhooks fire this long after a document\'s last update' },
  anomalyPolicy: { flag: 'anomaly-policy', env: 'SYNC_ANOMALY_POLICY', kind: 'string', def: '', help: 'per anomaly signal: notify, step_up or revoke, e.g. new_network=notify,impossible_travel=step_up (unlisted signals: their default)' },
  geoip: { flag: 'geoip', env: 'SYNC_GEOIP', kind: 'bool', def: false, help: 'locate client addresses with the optional geoip-lite package (impossible-travel signal, cities in alerts)' },
  handoffWindowMs: { flag: 'handoff-window-ms', env: 'SYNC_HANDOFF_WINDOW_MS', kind: 'int', def: 30 * 60_000, help: 'analytics: a user opening another device within this long of activity on one is a hand-off' },
  analyticsRetentionDays: { flag: 'analytics-retention-days', env: 'SYNC_ANALYTICS_RETENTION_DAYS', kind: 'int', def: 35, help: 'analytics: per-user activity is kept this many days (at least 31), then only daily aggregates remain' },
  analyticsFlushMs: { flag: 'analytics-flush-ms', env: 'SYNC_ANALYTICS_FLUSH_MS', kind: 'int', def: 60_000, help: 'analytics: open sockets\' activity and edit counts are stored this often; finished days are rolled up and old activity deleted' }
}

export class ConfigError extends Error {}

const parseValue = (s: Setting, raw: string | boolean): string | number | boolean => {
  if (s.kind === 'bool') return raw === true || raw === 'true' || raw === '1'
  if (s.kind === 'int') {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--${s.flag} must be a non-negative integer, got ${String(raw)}`)
    return n
  }
  return String(raw)
}

/**
 * Flags win over environment variables, which win over defaults. The database URL is also read from
 * DATABASE_URL, after --database-url and SYNC_DATABASE_URL.
 */
export const loadConfig = (argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ServerConfig => {
  const options = Object.fromEntries(Object.values(SETTINGS).map(s => [s.flag, { type: s.kind === 'bool' ? 'boolean' as const : 'string' as const }]))
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const config = {} as Record<string, unknown>
  for (const [key, s] of Object.entries(SETTINGS)) {
    const raw = values[s.flag] ?? env[s.env]
    config[key] = raw === undefined ? s.def : parseValue(s, raw)
  }
  const c = config as unknown as ServerConfig
  if (c.maxMessageBytes < 1024) throw new ConfigError('--max-message-bytes must be at least 1024')
  if (c.sessionPolicy !== 'standard' && c.sessionPolicy !== 'strict') throw new ConfigError('--session-policy must be standard or strict')
  if (c.accessTokenTtlMs < 1000) throw new ConfigError('--access-token-ttl-ms must be at least 1000')
  if (c.deviceCodeTtlMs < 60_000) throw new ConfigError('--device-code-ttl-ms must be at least 60000')
  if (c.verificationUri && !/^https?:\/\//.test(c.verificationUri)) throw new ConfigError('--verification-uri must be an http(s) URL')
  if (c.rpId && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(c.rpId)) throw new ConfigError('--rp-id must be a domain name (example.com), without scheme, port or path')
  if (c.analyticsRetentionDays < 31) throw new ConfigError('--analytics-retention-days must be at least 31 (monthly active users need 30 days of activity)')
  if (c.analyticsFlushMs < 1000) throw new ConfigError('--analytics-flush-ms must be at least 1000')
  if (c.store !== 'level' && c.store !== 'postgres') throw new ConfigError(`--store must be level or postgres, got ${String(c.store)}`)
  if (c.databaseUrl === '' && env.DATABASE_URL) c.databaseUrl = env.DATABASE_URL
  if (c.store === 'postgres' && c.databaseUrl === '') throw new ConfigError('--store postgres needs --database-url (or SYNC_DATABASE_URL or DATABASE_URL)')
  if (c.redisUrl !== '' && c.store !== 'postgres') throw new ConfigError('--redis-url needs --store postgres: the nodes of a cluster share their storage')
  if (c.webhookUrl && !/^https?:\/\//.test(c.webhookUrl)) throw new ConfigError('--webhook-url must be an http(s) URL')
  if (c.webhookUrl && c.webhookSecret.length < 16) throw new ConfigError('--webhook-url needs --webhook-secret of at least 16 characters')
  try { parsePolicy(c.anomalyPolicy) } catch (err) { throw new ConfigError(`--anomaly-policy: ${(err as Error).message}`) }
  c.publicUrl = c.publicUrl.replace(/\/+$/, '')
  try {
    proxyTrust(c.trustedProxies, c.publicUrl)
  } catch (err) {
    throw new ConfigError(`--trusted-proxies must be a number of hops or a list of addresses/CIDRs: ${(err as Error).message}`)
  }
  c.dataDir = path.resolve(c.dataDir)
  return c
}

export const usage = (): string =>
  'Usage: npm start -- [options]\n\n' + Object.values(SETTINGS)
    .map(s => `  --${s.flag.padEnd(28)} ${s.env.padEnd(32)} ${s.help}${s.def === '' ? '' : ` (default ${String(s.def)})`}`).join('\n')
