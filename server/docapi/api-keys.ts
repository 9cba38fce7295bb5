import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'
import type { ApiKeyRecord, SessionStore } from '../storage/session-store.js'

/** What an API key may be granted. */
export const API_KEY_SCOPES = ['docs:read', 'docs:write'] as const
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number]

/** Every key starts with this, so a key is told from a JWT at a glance (and found by secret scanners). */
export const API_KEY_PREFIX = 'ssk_'
const KEY_PATTERN = /^ssk_([a-f0-9]{16})\.([A-Za-z0-9_-]{43})$/

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url')

/**
 * Scoped API keys of app backends: `ssk_<id>.<secret>`, sent as `Authorization: Bearer <key>`. The
 * store keeps only the secret's hash; the whole key is returned once, by `create`.
 */
export class ApiKeys {
  constructor (private readonly store: SessionStore) {}

  async create (name: string, scopes: string[]): Promise<{ record: ApiKeyRecord, key: string }> {
    const unknown = scopes.filter(s => !(API_KEY_SCOPES as readonly string[]).includes(s))
    if (scopes.length === 0 || unknown.length > 0) {
      throw new Failure(ErrorCode.invalidRequest, `scopes must be some of ${API_KEY_SCOPES.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`)
    }
    const id = randomBytes(8).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const record: ApiKeyRecord = { id, secretHash: hashSecret(secret), scopes: [...new Set(scopes)], name: name.slice(0, 64), createdAt: Date.now() }
    await this.store.putApiKey(record)
    return { record, key: `${API_KEY_PREFIX}${id}.${secret}` }
  }

  async revoke (id: string): Promise<boolean> {
    const k = await this.store.apiKeyById(id)
    if (!k || k.revokedAt) return false
    await this.store.putApiKey({ ...k, revokedAt: Date.now() })
    return true
  }

  list (): Promise<ApiKeyRecord[]> { return this.store.apiKeys() }

  /** Whether `authorization` carries an API key (rather than an access token). */
  static carriesKey (authorization: string | undefined): boolean {
    return (authorization ?? '').startsWith(`Bearer ${API_KEY_PREFIX}`)
  }

  /** The live key in `Authorization: Bearer ssk_…` holding `scope`; a Failure otherwise. The message never repeats the key. */
  async verify (authorization: string | undefined, scope: ApiKeyScope): Promise<ApiKeyRecord> {
    const m = KEY_PATTERN.exec((authorization ?? '').replace(/^Bearer /, ''))
    const k = m ? await this.store.apiKeyById(m[1]!) : undefined
    const given = Buffer.from(hashSecret(m?.[2] ?? ''))
    const ok = k !== undefined && given.length === Buffer.byteLength(k.secretHash) && timingSafeEqual(given, Buffer.from(k.secretHash))
    if (!k || !ok || k.revokedAt) throw new Failure(ErrorCode.invalidToken, 'API key invalid or revoked')
    if (!k.scopes.includes(scope)) throw new Failure(ErrorCode.forbidden, `this API key lacks the ${scope} scope`)
    return k
  }
}
