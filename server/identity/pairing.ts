import { createHash, randomBytes, randomInt } from 'node:crypto'
import type { DeviceCodeResponse, DeviceInfo, PairingRequestInfo, TokenResponse } from '../../shared/api.js'
import { ErrorCode } from '../../shared/api.js'
import { DEVICE_POLL_INTERVAL_S, USER_CODE_ALPHABET, USER_CODE_LENGTH, formatUserCode, normalizeUserCode } from '../../shared/device-code.js'
import type { ServerConfig } from '../config.js'
import { Failure } from '../errors.js'
import type { DeviceGrantRecord, SessionStore } from '../storage/session-store.js'
import type { Authed, Identity, RequestContext } from './identity.js'
import { AuthRateLimits, HourlyBudget } from './rate-limits.js'

/** How often one user code may be entered (looked up, approved, denied) before it is void. */
export const MAX_CODE_ENTRIES = 5
/** `slow_down` never asks for more than this (seconds). */
const MAX_INTERVAL_S = 60
/** A poll may arrive this much before the interval is over (network jitter) without counting as too fast. */
const POLL_JITTER_MS = 500
/** Expired grants are kept this long, so a late poll still gets `expired_token`, then removed. */
const EXPIRED_KEEP_MS = 10 * 60_000
const SWEEP_EVERY_MS = 60_000
/** The amr of a session that a signed-in device approved. */
export const PAIRED_AMR = 'pair'

const hashDeviceCode = (code: string) => createHash('sha256').update(code).digest('base64url')

/** A uniformly random user code in canonical form. */
export const newUserCode = (): string => {
  let s = ''
  for (let i = 0; i < USER_CODE_LENGTH; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]
  return s
}

/**
 * The grant's pacing after a poll at `now` while it is pending; `slow` when the poll came before the
 * interval was over. A poll before the interval is over gets `slow_down` and 5 s more interval (up to
 * a minute); each poll that waited long enough takes 5 s off again, down to the start value.
 */
const paced = (g: DeviceGrantRecord, now: number): { lastPollAt: number, pollIntervalS: number, slow: boolean } => {
  if (g.lastPollAt === undefined) return { lastPollAt: now, pollIntervalS: DEVICE_POLL_INTERVAL_S, slow: false }
  const interval = g.pollIntervalS ?? DEVICE_POLL_INTERVAL_S
  if (now - g.lastPollAt < interval * 1000 - POLL_JITTER_MS) {
    return { lastPollAt: now, pollIntervalS: Math.min(MAX_INTERVAL_S, interval + DEVICE_POLL_INTERVAL_S), slow: true }
  }
  return { lastPollAt: now, pollIntervalS: Math.max(DEVICE_POLL_INTERVAL_S, interval - DEVICE_POLL_INTERVAL_S), slow: false }
}

/**
 * Pairing a device by code: the OAuth 2.0 device authorization grant (RFC 8628) on top of Identity.
 * The new device asks for a code with its DPoP proof, a signed-in device approves it (with a proof by
 * its own session key, and a fresh second factor when MFA is on), and the new device redeems its
 * device code once, with a proof by the key it asked with, for a device session bound to that key.
 *
 * Guessing is bounded three ways: wrong user codes per account and per IP, unknown device codes per
 * IP (`--user-code-attempts` per 15 min), and each user code can be entered MAX_CODE_ENTRIES times.
 * Poll pacing, entries and the decision live on the grant in the session store and change through
 * `updateDeviceGrant`, so every node sharing the store judges them alike and one change at a time.
 */
export class Pairing {
  private readonly attempts: AuthRateLimits
  private readonly codes: HourlyBudget
  private lastSweep = 0

  constructor (private readonly store: SessionStore, private readonly identity: Identity, private readonly config: ServerConfig) {
    this.attempts = new AuthRateLimits(identity.shared.limiters, 'user-code', config.userCodeAttempts, config.userCodeAttempts)
    this.codes = new HourlyBudget(identity.shared.limiters, 'device-code', config.deviceCodesPerIp)
  }

  /** `POST /auth/device/code`: a device code and a user code for the device whose proof came with it. */
  async requestCode (device: DeviceInfo, ctx: RequestContext): Promise<DeviceCodeResponse> {
    try { await this.codes.spend(`ip:${ctx.ip}`) } catch (err) {
      throw this.identity.limited(err, ctx, 'device_code', 'too many pairing codes from this address: try again later')
    }
    const jkt = await this.identity.proof(ctx)
    await this.sweep()
    const deviceCode = randomBytes(32).toString('base64url')
    let userCode = newUserCode()
    // 20^8 codes: a clash with a stored one is rare, two in a row rarer still.
    for (let i = 0; await this.store.deviceGrantByUserCode(userCode); i++) {
      if (i >= 5) throw new Failure(ErrorCode.internal, 'could not pick a free pairing code: try again')
      userCode = newUserCode()
    }
    const now = Date.now()
    const grant: DeviceGrantRecord = {
      id: hashDeviceCode(deviceCode), userCode, deviceName: device.name, platform: device.platform, ip: ctx.ip,
      userAgent: ctx.userAgent.slice(0, 256), jkt, createdAt: now, expiresAt: now + this.config.deviceCodeTtlMs, status: 'pending', entries: 0
    }
    await this.store.putDeviceGrant(grant)
    const verificationUri = this.config.verificationUri || `${new URL(ctx.url).origin}/device`
    const complete = new URL(verificationUri)
    complete.searchParams.set('code', formatUserCode(userCode))
    return {
      device_code: deviceCode,
      user_code: formatUserCode(userCode),
      verification_uri: verificationUri,
      verification_uri_complete: complete.toString(),
      expires_in: Math.floor(this.config.deviceCodeTtlMs / 1000),
      interval: DEVICE_POLL_INTERVAL_S
    }
  }

  /**
   * `POST /auth/device/token`: the new device's poll. Answers as RFC 8628 §3.5 says while the request
   * is pending, denied or expired; once approved, the device code is spent and the device session starts.
   */
  async redeem (deviceCode: string, ctx: RequestContext): Promise<TokenResponse> {
    await this.guard({ ip: ctx.ip }, ctx)
    const jkt = await this.identity.proof(ctx)
    const id = hashDeviceCode(deviceCode)
    return this.identity.serialized(`grant:${id}`, async () => {
      const g = await this.store.deviceGrantById(id)
      if (!g) {
        await this.attempts.fail({ ip: ctx.ip })
        throw new Failure(ErrorCode.invalidGrant, 'unknown or already used device code')
      }
      if (g.jkt !== jkt) {
        await this.attempts.fail({ ip: ctx.ip })
        this.identity.event('dpop_key_mismatch', { ip: ctx.ip, reason: 'device code polled with another key' })
        throw new Failure(ErrorCode.invalidDpop, 'the device code must be polled with the key that asked for it')
      }
      const now = Date.now()
      if (now >= g.expiresAt) {
        throw new Failure(ErrorCode.expiredToken, 'the pairing code expired: ask for a new one')
      }
      if (g.status === 'denied') {
        await this.store.deleteDeviceGrant(g)
        throw new Failure(ErrorCode.accessDenied, 'the pairing request was denied')
      }
      if (g.status === 'approved') {
        // The device code is spent once: of two nodes redeeming it at once, one removes the grant.
        if (!await this.store.deleteDeviceGrant(g)) throw new Failure(ErrorCode.invalidGrant, 'unknown or already used device code')
        const user = g.userId ? await this.store.userById(g.userId) : undefined
        if (!user) throw new Failure(ErrorCode.accessDenied, 'the account that approved the request no longer exists')
        return this.identity.startSession(user, { name: g.deviceName, platform: g.platform }, g.jkt, [PAIRED_AMR], undefined, ctx)
      }
      // Judged on the grant as stored, one poll at a time on every node: of two polls at once, one is too fast.
      let slow = false
      const stored = await this.store.updateDeviceGrant(id, cur => {
        if (cur.status !== 'pending') return false
        const p = paced(cur, now)
        slow = p.slow
        cur.lastPollAt = p.lastPollAt
        cur.pollIntervalS = p.pollIntervalS
        return true
      })
      if (slow) throw new Failure(ErrorCode.slowDown, `polling too fast: wait ${stored!.pollIntervalS!} s between polls`)
      // Decided in the meantime (or gone): the next poll hears it.
      throw new Failure(ErrorCode.authorizationPending, 'not approved yet: keep polling')
    })
  }

  /** `POST /auth/device/lookup`: what asks to be added, for the approval screen. */
  async lookup (a: Authed, userCode: string, ctx: RequestContext): Promise<PairingRequestInfo> {
    const g = await this.enter(a, userCode, ctx)
    return this.identity.serialized(`grant:${g.id}`, async () => this.info(await this.entered(a, g.id, ctx), ctx))
  }

  /**
   * `POST /auth/device/approve`: the device that asked may redeem its device code for a session of
   * this account. Needs a session-bound request (Identity.authenticateBound) and, with MFA on, a fresh
   * second factor.
   */
  async approve (a: Authed, userCode: string, ctx: RequestContext): Promise<PairingRequestInfo> {
    this.identity.requireStepUp(a)
    return this.decide(a, userCode, 'approved', ctx)
  }

  /** `POST /auth/device/deny`: the device that asked learns `access_denied`. */
  async deny (a: Authed, userCode: string, ctx: RequestContext): Promise<PairingRequestInfo> {
    return this.decide(a, userCode, 'denied', ctx)
  }

  private async decide (a: Authed, userCode: string, status: 'approved' | 'denied', ctx: RequestContext): Promise<PairingRequestInfo> {
    const found = await this.enter(a, userCode, ctx)
    return this.identity.serialized(`grant:${found.id}`, async () => {
      const g = await this.entered(a, found.id, ctx, { status, userId: a.user.id, decidedBy: a.session.id })
      this.identity.event(status === 'approved' ? 'pairing_approved' : 'pairing_denied', {
        userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, reason: `${g.platform}: ${g.deviceName} from ${g.ip}`
      })
      return this.info(g, ctx)
    })
  }

  /** Finds the pending grant a typed code names, counting a wrong code against the account and the IP. */
  private async enter (a: Authed, userCode: string, ctx: RequestContext): Promise<DeviceGrantRecord> {
    const keys = { account: a.user.id, ip: ctx.ip }
    await this.guard(keys, ctx)
    const code = normalizeUserCode(userCode)
    if (!code) throw new Failure(ErrorCode.invalidUserCode, `a pairing code is ${USER_CODE_LENGTH} letters, like BCDF-GHJK`)
    const g = await this.store.deviceGrantByUserCode(code)
    if (!g || g.status !== 'pending' || Date.now() >= g.expiresAt) {
      await this.attempts.fail(keys)
      this.identity.event('pairing_code_failed', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidUserCode, 'no device is waiting for this code: check it, or ask the new device for a new one')
    }
    return g
  }

  /**
   * Spends one of the pending grant's entries, the last one voiding it, and records `decision` if any:
   * one update of the grant as stored, so entries and decisions on several nodes do not overwrite each other.
   */
  private async entered (a: Authed, id: string, ctx: RequestContext, decision?: Pick<DeviceGrantRecord, 'status' | 'userId' | 'decidedBy'>): Promise<DeviceGrantRecord> {
    const now = Date.now()
    let outcome: 'gone' | 'void' | 'entered' = 'gone'
    const g = await this.store.updateDeviceGrant(id, cur => {
      if (cur.status !== 'pending' || now >= cur.expiresAt) { outcome = 'gone'; return false }
      cur.entries++
      if (cur.entries > MAX_CODE_ENTRIES) {
        Object.assign(cur, { status: 'denied', decidedAt: now })
        outcome = 'void'
      } else {
        if (decision) Object.assign(cur, decision, { decidedAt: now })
        outcome = 'entered'
      }
      return true
    })
    if (!g || outcome === 'gone') throw new Failure(ErrorCode.invalidUserCode, 'this request was already decided or expired')
    if (outcome === 'void') {
      this.identity.event('pairing_code_failed', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, reason: 'code entered too often: void' })
      throw new Failure(ErrorCode.invalidUserCode, 'this code was entered too often and no longer works: ask the new device for a new one')
    }
    return g
  }

  private info (g: DeviceGrantRecord, ctx: RequestContext): PairingRequestInfo {
    return {
      userCode: formatUserCode(g.userCode), device: { name: g.deviceName, platform: g.platform }, ip: g.ip, userAgent: g.userAgent,
      requestedAt: g.createdAt, expiresAt: g.expiresAt, sameNetwork: g.ip === ctx.ip
    }
  }

  private async guard (keys: { account?: string, ip?: string }, ctx: RequestContext): Promise<void> {
    try { await this.attempts.check(keys) } catch (err) {
      throw this.identity.limited(err, ctx, 'pairing', 'too many wrong pairing codes: try again later')
    }
  }

  /** Removes grants that expired a while ago; at most once a minute, a bounded batch. */
  private async sweep (): Promise<void> {
    const now = Date.now()
    if (now - this.lastSweep < SWEEP_EVERY_MS) return
    this.lastSweep = now
    for (const g of await this.store.deviceGrantsExpiredBefore(now - EXPIRED_KEEP_MS, 500)) await this.store.deleteDeviceGrant(g)
  }
}
