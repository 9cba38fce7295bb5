import { randomUUID } from 'node:crypto'
import type { DeviceInfo, LoginResponse, TokenResponse, SessionInfo, StepUpResponse, MfaEnrollResponse } from '../../shared/api.js'
import { ErrorCode, sessionDocName } from '../../shared/api.js'
import type { ServerConfig } from '../config.js'
import type { Logger } from '../observe/logger.js'
import { Failure } from '../errors.js'
import { AccessTokens, STEP_UP_WINDOW_S, TokenError, type AccessClaims } from './access-token.js'
import { DpopError, verifyDpopProof } from './dpop.js'
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js'
import { hashRecoveryCode, newRecoveryCodes, newTotpSecret, sameHash, totpStep } from './mfa.js'
import { AuthRateLimits, HourlyBudget, RateLimited } from './rate-limits.js'
import { hashRefreshToken, newRefreshToken, sealSuccessor, unsealSuccessor } from './refresh-token.js'
import type { SecurityEventFields, SecurityEventKind, SecurityLog } from './security-events.js'
import type { SessionRecord, SessionStore, UserRecord } from '../storage/session-store.js'
import { expiryPolicy, sessionDeadline } from './expiry-policy.js'
import type { SharedState } from '../cluster/shared-state.js'
import { MemoryOnceCache } from '../cluster/memory-once-cache.js'
import { memoryLimiters } from '../cluster/memory-limiters.js'
import { canonicalEmail, validEmail } from './email.js'

/** What the HTTP layer knows about a request, for proofs, rate limits and the session dashboard. */
export interface RequestContext { ip: string, userAgent: string, dpop?: string, method: string, url: string }

/** A verified Bearer token with its live session. */
export interface Authed { claims: AccessClaims, session: SessionRecord, user: UserRecord }

export type SessionEndReason = 'logout' | 'revoked' | 'refresh_reuse' | 'password_changed' | 'expired' | 'admin' | 'disabled'

/** Told of every device session started, and of each one once, when it ends (analytics). */
export interface SessionObserver { started (s: SessionRecord): void, ended (s: SessionRecord): void }

/** Refuses a disabled account (admin API) before it gets a session, a token or a socket. */
const refuseDisabled = (user: UserRecord): void => {
  if (user.disabledAt) throw new Failure(ErrorCode.accountDisabled, 'this account is disabled: contact the administrator')
}

const MFA_CHALLENGE_MS = 5 * 60_000
/** `amr` values that prove a second factor: a TOTP or recovery code, a passkey with user verification. */
const STEP_UP_METHODS = new Set(['otp', 'hwk'])
// lastSeenAt is written at most this often per session: it is a hint, not a ledger.
const TOUCH_EVERY_MS = 60_000

/**
 * Accounts and device sessions: passwords, MFA, DPoP-bound rotating refresh tokens, access tokens,
 * expiry and revocation. Transport-free; `onSessionEnded` lets the sync layer close sockets.
 */
export class Identity {
  private readonly limits: AuthRateLimits
  private readonly registrations: HourlyBudget
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly policy: { idleTimeoutMs: number, absoluteLifetimeMs: number }
  /**
   * Told when a live session is used from another address than its last one (before the record
   * changes: `s.lastIp` and `s.lastSeenAt` are still the previous use). Anomaly detection listens.
   */
  onSessionUse: ((s: SessionRecord, ip: string) => void) | undefined
  sessionObserver?: SessionObserver

  constructor (
    readonly store: SessionStore,
    readonly tokens: AccessTokens,
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly onSessionEnded: (sessionId: string, reason: SessionEndReason) => void,
    /** Open sockets of a session on every node (cluster/online-counts.ts). */
    private readonly onlineCount: (sessionId: string) => number | Promise<number>,
    /** Where security events go: log line, metric, store, listeners. */
    readonly securityLog: SecurityLog,
    /** Used ids and rate-limit counters: this process's, or a cluster's (cluster/shared-state.ts). */
    readonly shared: Pick<SharedState, 'once' | 'limiters'> = { once: new MemoryOnceCache(), limiters: memoryLimiters }
  ) {
    this.limits = new AuthRateLimits(shared.limiters, 'auth', config.loginAttemptsPerAccount, config.loginAttemptsPerIp)
    this.registrations = new HourlyBudget(shared.limiters, 'register', config.registrationsPerIp)
    this.policy = expiryPolicy(config)
  }

  /**
   * Creates an account. Every attempt that could succeed spends one of the IP's hourly registrations,
   * a taken email included: `email_taken` tells whether an account exists, so it must come slowly.
   * Refused input (email, password policy) spends nothing and tells nothing.
   */
  async register (email: string, password: string, ctx: RequestContext): Promise<string> {
    const canonical = validEmail(email)
    const problem = passwordProblem(password)
    if (problem) throw new Failure(ErrorCode.weakPassword, problem)
    try { await this.registrations.spend(`ip:${ctx.ip}`) } catch (err) {
      throw this.limited(err, ctx, 'registration', 'too many registrations from this address: try again later')
    }
    const user: UserRecord = { id: randomUUID(), email: canonical, passwordHash: await hashPassword(password), createdAt: Date.now() }
    if (!await this.store.createUser(user)) throw new Failure(ErrorCode.emailTaken, 'an account with this email exists')
    this.event('register', { userId: user.id, ip: ctx.ip })
    return user.id
  }

  async login (email: string, password: string, device: DeviceInfo, ctx: RequestContext): Promise<LoginResponse> {
    const normalized = canonicalEmail(email)
    // Budgets first: a limited client costs no signature check and leaves no proof id in memory.
    await this.guard({ account: normalized, ip: ctx.ip }, ctx)
    const jkt = await this.proof(ctx)
    const user = await this.store.userByEmail(normalized)
    // Same work and same answer for an unknown email and a wrong password.
    const ok = await verifyPassword(user?.passwordHash, password)
    if (!user || !ok) {
      await this.limits.fail({ account: normalized, ip: ctx.ip })
      this.event('login_failed', { userId: user?.id, ip: ctx.ip, reason: 'bad credentials' })
      throw new Failure(ErrorCode.invalidCredentials, 'wrong email or password')
    }
    refuseDisabled(user)
    if (user.mfaSecret) {
      const mfaToken = await this.tokens.issuePurpose('mfa', { sub: user.id, jkt, device }, MFA_CHALLENGE_MS)
      return { mfaRequired: true, mfaToken }
    }
    await this.limits.reset(normalized)
    return this.startSession(user, device, jkt, ['pwd'], undefined, ctx)
  }

  async verifyMfa (mfaToken: string, code: string, ctx: RequestContext): Promise<TokenResponse> {
    await this.guard({ ip: ctx.ip }, ctx)
    const jkt = await this.proof(ctx)
    let claims: Record<string, unknown>
    try { claims = await this.tokens.verifyPurpose(mfaToken, 'mfa') } catch {
      throw new Failure(ErrorCode.invalidToken, 'MFA challenge invalid or expired: sign in again')
    }
    if (claims.jkt !== jkt) throw new Failure(ErrorCode.invalidDpop, 'MFA must be completed by the device that signed in')
    const user = await this.store.userById(String(claims.sub))
    if (!user?.mfaSecret) throw new Failure(ErrorCode.invalidToken, 'MFA challenge no longer applies')
    await this.guard({ account: user.email, ip: ctx.ip }, ctx)
    if (!await this.checkSecondFactor(user, code, ctx)) {
      await this.limits.fail({ account: user.email, ip: ctx.ip })
      this.event('mfa_challenge_failed', { userId: user.id, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidMfaCode, 'wrong or already used code')
    }
    if (!await this.shared.once.claim('mfa', String(claims.jti), MFA_CHALLENGE_MS + 60_000)) {
      throw new Failure(ErrorCode.invalidToken, 'MFA challenge already used')
    }
    await this.limits.reset(user.email)
    return this.startSession(user, claims.device as DeviceInfo, jkt, ['pwd', 'otp'], Date.now(), ctx)
  }

  /**
   * Rotates the refresh token. The current token gets a fresh pair; the token rotated last, retried
   * within the grace window by the same device key, gets the same successor again (a lost response);
   * any other earlier token means it was copied: the whole device session ends.
   */
  async refresh (refreshToken: string, ctx: RequestContext): Promise<TokenResponse> {
    await this.guard({ ip: ctx.ip }, ctx)
    const jkt = await this.proof(ctx)
    const hash = hashRefreshToken(refreshToken)
    const sid = await this.store.sessionIdByRefreshHash(hash)
    if (!sid) {
      await this.limits.fail({ ip: ctx.ip })
      throw new Failure(ErrorCode.invalidToken, 'unknown refresh token')
    }
    // Read-rotate-write must not interleave for one session (two tabs refreshing at once).
    return this.serialized(sid, () => this.rotate(sid, refreshToken, hash, jkt, ctx))
  }

  private async rotate (sid: string, refreshToken: string, hash: string, jkt: string, ctx: RequestContext): Promise<TokenResponse> {
    const session = await this.store.sessionById(sid)
    if (!session) throw new Failure(ErrorCode.invalidToken, 'unknown refresh token')
    // Proof of possession comes first: a stolen token without the device key changes nothing.
    if (session.jkt !== jkt) {
      this.event('dpop_key_mismatch', { userId: session.userId, sessionId: session.id, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidDpop, 'refresh token is bound to another device key')
    }
    if (await this.endIfExpired(session)) throw new Failure(ErrorCode.sessionEnded, 'device session expired: sign in again')
    if (session.endedAt) throw new Failure(ErrorCode.sessionEnded, 'device session ended: sign in again')
    const user = await this.store.userById(session.userId)
    if (!user) throw new Failure(ErrorCode.sessionEnded, 'account no longer exists')
    refuseDisabled(user)

    // Decided on the record as stored, under the store's per-session update lock, so two nodes
    // refreshing the same token at once hand out one successor: the second sees the first's rotation.
    const now = Date.now()
    const fresh = newRefreshToken()
    // Indexed before it is stored as current, so the new token always finds its session. Only when
    // the token was current as read: a grace retry or a replay needs no new token.
    const rotating = sameHash(session.refreshHash, hash)
    if (rotating) await this.store.indexRefreshHash(hashRefreshToken(fresh), session.id)
    let next = null as string | null
    const stored = await this.writeSession(session.id, cur => {
      next = null
      if (cur.endedAt) return false
      // A token that is current now was current when read (a current hash never comes back).
      if (rotating && sameHash(cur.refreshHash, hash)) {
        next = fresh
        Object.assign(cur, { prevRefreshHash: hash, prevRotatedAt: now, prevSealedSuccessor: sealSuccessor(refreshToken, fresh), refreshHash: hashRefreshToken(fresh) })
      } else {
        const successor = cur.prevRefreshHash === hash && cur.prevSealedSuccessor && now - (cur.prevRotatedAt ?? 0) <= this.config.refreshGraceMs
          ? unsealSuccessor(refreshToken, cur.prevSealedSuccessor)
          : null
        if (successor === null || hashRefreshToken(successor) !== cur.refreshHash) return false
        next = successor
      }
      Object.assign(cur, { lastSeenAt: now, lastIp: ctx.ip })
      return true
    })
    if (!stored || stored.endedAt) throw new Failure(ErrorCode.sessionEnded, 'device session ended: sign in again')
    if (next === null) {
      this.event('refresh_reuse', { userId: session.userId, sessionId: session.id, ip: ctx.ip })
      await this.endSession(stored, 'refresh_reuse')
      throw new Failure(ErrorCode.refreshReuse, 'refresh token was already used: the device session has been revoked')
    }
    if (ctx.ip !== session.lastIp) this.onSessionUse?.({ ...session }, ctx.ip)
    return this.tokenResponse(user, stored, next)
  }

  /** Verifies `Authorization: Bearer …` and that its device session is still live. */
  async authenticate (authorization: string | undefined, ctx?: Pick<RequestContext, 'ip'>): Promise<Authed> {
    const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '')
    if (!m) throw new Failure(ErrorCode.invalidToken, 'Authorization: Bearer <access token> required')
    const authed = await this.verifyAccessToken(m[1]!)
    await this.touch(authed.session, ctx?.ip)
    return authed
  }

  /** Token → live session and user; used by HTTP and WebSocket authentication alike. */
  async verifyAccessToken (token: string): Promise<Authed> {
    let claims: AccessClaims
    try { claims = await this.tokens.verify(token) } catch (err) {
      const expired = err instanceof TokenError && err.code === 'token_expired'
      throw new Failure(expired ? ErrorCode.tokenExpired : ErrorCode.invalidToken, expired ? 'access token expired' : 'access token invalid')
    }
    const session = await this.store.sessionById(claims.sid)
    if (!session || session.userId !== claims.sub || session.endedAt || await this.endIfExpired(session)) {
      throw new Failure(ErrorCode.sessionEnded, 'device session ended: sign in again')
    }
    const user = await this.store.userById(claims.sub)
    if (!user) throw new Failure(ErrorCode.sessionEnded, 'account no longer exists')
    refuseDisabled(user)
    return { claims, session, user }
  }

  async logout (a: Authed, ctx: RequestContext): Promise<void> {
    this.event('logout', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
    await this.endSession(a.session, 'logout')
  }

  async listSessions (a: Authed): Promise<SessionInfo[]> {
    const all = await this.store.sessionsOfUser(a.user.id)
    const live: SessionInfo[] = []
    for (const s of all) {
      if (s.endedAt || await this.endIfExpired(s)) continue
      live.push({
        id: s.id, deviceName: s.deviceName, platform: s.platform, userAgent: s.userAgent, createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt, lastIp: s.lastIp, current: s.id === a.session.id, online: await this.onlineCount(s.id)
      })
    }
    return live.sort((x, y) => Number(y.current) - Number(x.current) || y.lastSeenAt - x.lastSeenAt)
  }

  async revokeSession (a: Authed, sessionId: string, ctx: RequestContext): Promise<void> {
    const s = await this.store.sessionById(sessionId)
    if (!s || s.userId !== a.user.id || s.endedAt) throw new Failure(ErrorCode.notFound, 'no such device session')
    this.event('session_revoked', { userId: a.user.id, sessionId, ip: ctx.ip, reason: s.id === a.session.id ? 'self' : 'remote' })
    await this.endSession(s, 'revoked')
  }

  async revokeOthers (a: Authed, ctx: RequestContext): Promise<number> {
    this.requireStepUp(a)
    return this.endOthers(a, 'revoked', ctx)
  }

  async changePassword (a: Authed, current: string, next: string, ctx: RequestContext): Promise<void> {
    this.requireStepUp(a)
    await this.guard({ account: a.user.email, ip: ctx.ip }, ctx)
    if (!await verifyPassword(a.user.passwordHash, current)) {
      await this.limits.fail({ account: a.user.email, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidCredentials, 'current password is wrong')
    }
    const problem = passwordProblem(next)
    if (problem) throw new Failure(ErrorCode.weakPassword, problem)
    a.user.passwordHash = await hashPassword(next)
    await this.store.putUser(a.user)
    this.event('password_changed', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
    await this.endOthers(a, 'password_changed', ctx)
  }

  async mfaEnroll (a: Authed): Promise<MfaEnrollResponse> {
    if (a.user.mfaSecret) throw new Failure(ErrorCode.mfaAlreadyEnabled, 'MFA is already on')
    const { secret, otpauthUri } = newTotpSecret(a.user.email)
    a.user.mfaPendingSecret = secret
    await this.store.putUser(a.user)
    return { secret, otpauthUri }
  }

  async mfaConfirm (a: Authed, code: string, ctx: RequestContext): Promise<string[]> {
    if (a.user.mfaSecret) throw new Failure(ErrorCode.mfaAlreadyEnabled, 'MFA is already on')
    if (!a.user.mfaPendingSecret) throw new Failure(ErrorCode.mfaNotEnabled, 'call /auth/mfa/enroll first')
    await this.guard({ account: a.user.email, ip: ctx.ip }, ctx)
    const step = totpStep(a.user.mfaPendingSecret, code)
    if (step === null) {
      await this.limits.fail({ account: a.user.email, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidMfaCode, 'wrong code: check the authenticator app clock')
    }
    const codes = newRecoveryCodes()
    Object.assign(a.user, { mfaSecret: a.user.mfaPendingSecret, mfaPendingSecret: undefined, lastTotpStep: step, recoveryHashes: codes.map(hashRecoveryCode) })
    await this.store.putUser(a.user)
    // The session that just proved the code counts as stepped up.
    await this.markSecondFactor(a.session)
    this.event('mfa_enabled', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
    return codes
  }

  async mfaDisable (a: Authed, ctx: RequestContext): Promise<void> {
    if (!a.user.mfaSecret) throw new Failure(ErrorCode.mfaNotEnabled, 'MFA is not on')
    this.requireStepUp(a)
    Object.assign(a.user, { mfaSecret: undefined, mfaPendingSecret: undefined, recoveryHashes: undefined, lastTotpStep: undefined })
    await this.store.putUser(a.user)
    this.event('mfa_disabled', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
  }

  /** Proves the second factor again; the returned access token satisfies step-up for 10 minutes. */
  async stepUp (a: Authed, code: string, ctx: RequestContext): Promise<StepUpResponse> {
    if (!a.user.mfaSecret) throw new Failure(ErrorCode.mfaNotEnabled, 'MFA is not on: nothing to step up to')
    await this.guard({ account: a.user.email, ip: ctx.ip }, ctx)
    if (!await this.checkSecondFactor(a.user, code, ctx)) {
      await this.limits.fail({ account: a.user.email, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidMfaCode, 'wrong or already used code')
    }
    await this.markSecondFactor(a.session)
    return this.steppedUp(a.session)
  }

  /** A fresh access token for a session that just proved a second factor. */
  async steppedUp (s: SessionRecord): Promise<StepUpResponse> {
    const t = await this.issueAccess(s)
    return { accessToken: t.token, accessTokenExpiresAt: t.expiresAt }
  }

  /**
   * A Bearer token plus a DPoP proof of this request by the key its session is bound to: for actions
   * that hand out lasting access (approving a new device, adding a passkey), which a copied access
   * token alone must not do.
   */
  async authenticateBound (authorization: string | undefined, ctx: RequestContext): Promise<Authed> {
    const a = await this.authenticate(authorization, ctx)
    const jkt = await this.proof(ctx)
    if (jkt !== a.session.jkt) {
      this.event('dpop_key_mismatch', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidDpop, 'this action needs a DPoP proof by the device key of the signed-in session')
    }
    return a
  }

  /** Ends a session if its idle or absolute deadline passed; true when it is (now) ended. */
  async endIfExpired (s: SessionRecord): Promise<boolean> {
    if (s.endedAt) return true
    if (Date.now() < sessionDeadline(s)) return false
    this.event('session_expired', { userId: s.userId, sessionId: s.id })
    await this.endSession(s, 'expired')
    return true
  }

  /** Re-reads a session (e.g. for the expiry sweeper); undefined when it is gone or ended. */
  async liveSession (sessionId: string): Promise<SessionRecord | undefined> {
    const s = await this.store.sessionById(sessionId)
    return !s || s.endedAt || await this.endIfExpired(s) ? undefined : s
  }

  /** Records use (time, IP) of a session; never revives one that ended since `s` was read. */
  async touch (s: SessionRecord, ip?: string): Promise<void> {
    const now = Date.now()
    if (now - s.lastSeenAt < TOUCH_EVERY_MS && (!ip || ip === s.lastIp)) return
    if (ip && ip !== s.lastIp) this.onSessionUse?.({ ...s }, ip)
    s.lastSeenAt = now
    if (ip) s.lastIp = ip
    await this.writeSession(s.id, cur => {
      if (cur.endedAt) return false
      cur.lastSeenAt = Math.max(cur.lastSeenAt, now)
      if (ip) cur.lastIp = ip
      return true
    })
  }

  /** Ends a device session (admin API: `admin`, `disabled`); its sockets close on every node. */
  async endSession (s: SessionRecord, reason: SessionEndReason): Promise<void> {
    if (!s.endedAt) {
      let ended = false
      const stored = await this.writeSession(s.id, cur => {
        if (cur.endedAt) return false
        cur.endedAt = Date.now()
        cur.endReason = reason
        ended = true
        return true
      })
      s.endedAt = stored?.endedAt ?? Date.now()
      s.endReason = stored?.endReason ?? reason
      if (ended && stored) this.sessionObserver?.ended(stored)
    }
    this.onSessionEnded(s.id, reason)
  }

  /**
   * Changes a stored session record: one change at a time per session on every node (the store's
   * `updateSession`), each applied to the record as stored when its turn comes, so a write prepared
   * from an older copy cannot undo another (e.g. clear `endedAt`). `change` returns false to leave the
   * record as it is. Resolves with the stored record.
   */
  private writeSession (id: string, change: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined> {
    return this.store.updateSession(id, change)
  }

  private async endOthers (a: Authed, reason: SessionEndReason, ctx: RequestContext): Promise<number> {
    let n = 0
    for (const s of await this.store.sessionsOfUser(a.user.id)) {
      if (s.id === a.session.id || s.endedAt) continue
      this.event('session_revoked', { userId: a.user.id, sessionId: s.id, ip: ctx.ip, reason })
      await this.endSession(s, reason)
      n++
    }
    return n
  }

  /**
   * With MFA on, a sensitive action needs the second factor proven within STEP_UP_WINDOW_S: a TOTP or
   * recovery code (`otp`) or a passkey with user verification (`hwk`), as `amr` and `mfa_time` say.
   */
  requireStepUp (a: Authed): void {
    if (!a.user.mfaSecret) return
    // An anomaly on this session: only a second factor proven after it counts (which clears the flag).
    if (a.session.stepUpRequiredAt) throw new Failure(ErrorCode.stepUpRequired, 'unusual activity on this device session: confirm with your authenticator code or a passkey first (POST /auth/step-up)')
    const proven = a.claims.amr.some(m => STEP_UP_METHODS.has(m))
    const fresh = proven && typeof a.claims.mfa_time === 'number' && Date.now() / 1000 - a.claims.mfa_time <= STEP_UP_WINDOW_S
    if (!fresh) throw new Failure(ErrorCode.stepUpRequired, 'confirm with your authenticator code or a passkey first (POST /auth/step-up)')
  }

  /** Sensitive acts of a session need a second factor proven from now on (an anomaly's `step_up` action). */
  async requireStepUpFor (sessionId: string): Promise<void> {
    const at = Date.now()
    await this.writeSession(sessionId, cur => {
      if (cur.endedAt) return false
      cur.stepUpRequiredAt = at
      return true
    })
  }

  /** Ends a live session on the server's own decision (an anomaly's `revoke` action); false when it had ended. */
  async revokeById (sessionId: string, reason: string): Promise<boolean> {
    const s = await this.store.sessionById(sessionId)
    if (!s || s.endedAt) return false
    this.event('session_revoked', { userId: s.userId, sessionId, reason })
    await this.endSession(s, 'revoked')
    return true
  }

  /** The session proved a second factor (`otp` or `hwk`) now: its tokens carry it and a fresh `mfa_time`. */
  async markSecondFactor (s: SessionRecord, method: 'otp' | 'hwk' = 'otp'): Promise<void> {
    const mfaAt = Date.now()
    Object.assign(s, { mfaAt, amr: [...new Set([...s.amr, method])], stepUpRequiredAt: undefined })
    await this.writeSession(s.id, cur => {
      if (cur.endedAt) return false
      Object.assign(cur, { mfaAt, amr: [...new Set([...cur.amr, method])], stepUpRequiredAt: undefined })
      return true
    })
  }

  /** A TOTP code (each time step once) or an unused recovery code (consumed). */
  private async checkSecondFactor (user: UserRecord, code: string, ctx: RequestContext): Promise<boolean> {
    const trimmed = String(code).trim()
    const step = user.mfaSecret ? totpStep(user.mfaSecret, trimmed) : null
    if (step !== null && step > (user.lastTotpStep ?? -1)) {
      user.lastTotpStep = step
      await this.store.putUser(user)
      return true
    }
    const h = hashRecoveryCode(trimmed)
    const idx = (user.recoveryHashes ?? []).findIndex(x => sameHash(x, h))
    if (idx < 0) return false
    user.recoveryHashes!.splice(idx, 1)
    await this.store.putUser(user)
    this.event('recovery_code_used', { userId: user.id, ip: ctx.ip, reason: `${user.recoveryHashes!.length} left` })
    return true
  }

  /**
   * A new device session bound to the DPoP key `jkt`: password and MFA sign-in, a passkey, or a paired
   * device. `amr` says how it was authenticated; `mfaAt` when a second factor was proven, if now.
   */
  async startSession (user: UserRecord, device: DeviceInfo, jkt: string, amr: string[], mfaAt: number | undefined, ctx: RequestContext): Promise<TokenResponse> {
    refuseDisabled(user)
    const now = Date.now()
    const refresh = newRefreshToken()
    const session: SessionRecord = {
      id: randomUUID(), userId: user.id, deviceName: device.name, platform: device.platform, userAgent: ctx.userAgent.slice(0, 256),
      createdAt: now, lastSeenAt: now, lastIp: ctx.ip, jkt, amr, mfaAt, refreshHash: hashRefreshToken(refresh),
      idleTimeoutMs: this.policy.idleTimeoutMs, absoluteExpiresAt: now + this.policy.absoluteLifetimeMs
    }
    await this.store.indexRefreshHash(session.refreshHash, session.id)
    await this.store.putSession(session)
    this.sessionObserver?.started(session)
    this.event('login_ok', { userId: user.id, sessionId: session.id, ip: ctx.ip, userAgent: session.userAgent, reason: amr.join('+') })
    this.event('new_device', { userId: user.id, sessionId: session.id, ip: ctx.ip, reason: `${device.platform}: ${device.name}` })
    return this.tokenResponse(user, session, refresh)
  }

  private async tokenResponse (user: UserRecord, session: SessionRecord, refreshToken: string): Promise<TokenResponse> {
    const t = await this.issueAccess(session)
    return { accessToken: t.token, refreshToken, sessionId: session.id, userId: user.id, accessTokenExpiresAt: t.expiresAt, sessionDoc: sessionDocName(user.id) }
  }

  private issueAccess (s: SessionRecord) {
    return this.tokens.issue({ sub: s.userId, sid: s.id, amr: s.amr, mfaTime: s.mfaAt ? Math.floor(s.mfaAt / 1000) : undefined })
  }

  /** Verifies the request's DPoP proof; the JWK thumbprint of its key. */
  async proof (ctx: RequestContext): Promise<string> {
    try {
      return await verifyDpopProof(ctx.dpop, ctx.method, ctx.url, this.shared.once)
    } catch (err) {
      if (err instanceof DpopError) throw new Failure(ErrorCode.invalidDpop, err.message)
      throw err
    }
  }

  /** Records a security event without waiting for it to be stored (`securityLog.record` never rejects). */
  event (kind: SecurityEventKind, fields: SecurityEventFields): void {
    void this.securityLog.record(kind, fields)
  }

  /** Runs `fn` after every earlier call with the same key has settled (in this process). */
  serialized<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(key) ?? Promise.resolve()).then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(key, tail)
    void tail.then(() => { if (this.locks.get(key) === tail) this.locks.delete(key) })
    return run
  }

  /** Counts a failed credential attempt (a passkey that did not verify) against the account's and IP's budgets. */
  async failedAttempt (keys: { account?: string, ip?: string }): Promise<void> { await this.limits.fail(keys) }

  /** Refuses with `rate_limited` when the failed-attempt budget of the account or IP is spent. */
  async guard (keys: { account?: string, ip?: string }, ctx: RequestContext): Promise<void> {
    try { await this.limits.check(keys) } catch (err) {
      throw this.limited(err, ctx, keys.account ? 'account' : 'ip', 'too many attempts: try again later')
    }
  }

  /** A used-up budget becomes a logged `rate_limited` failure with Retry-After; other errors pass. */
  limited (err: unknown, ctx: Pick<RequestContext, 'ip'>, reason: string, message: string): unknown {
    if (!(err instanceof RateLimited)) return err
    this.event('rate_limited', { ip: ctx.ip, reason })
    return new Failure(ErrorCode.rateLimited, message, err.retryAfterS)
  }
}

