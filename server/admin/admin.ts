import type { AdminSessionInfo, AdminUserInfo, AdminUserListResponse } from '../../shared/api.js'
import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'
import type { Authed, Identity, RequestContext } from '../identity/identity.js'
import type { SecurityEventQuery, SecurityEventRecord, SessionStore, UserRecord } from '../storage/session-store.js'

/** What an admin did, as the audit trail names it. */
export type AdminAction = 'list_users' | 'list_sessions' | 'force_logout' | 'end_session' | 'disable' | 'enable' | 'query_events' | 'analytics' | 'denied' | 'read_session_doc' | 'change_session_doc'

export const userInfo = (u: UserRecord): AdminUserInfo => ({
  id: u.id, email: u.email, createdAt: u.createdAt, admin: !!u.admin, mfaEnabled: !!u.mfaSecret, ...(u.disabledAt ? { disabledAt: u.disabledAt } : {})
})

/**
 * The admin role's operations. Every call needs an admin's access token with a DPoP proof by its
 * session's key (`authorize`); ending sessions and disabling accounts also need a recent step-up
 * when the admin has MFA on. Every call, refusals included, is audited as an `admin_action` security
 * event: the admin, the action, the target; never a secret.
 */
export class Admin {
  constructor (
    private readonly store: SessionStore,
    private readonly identity: Identity,
    /** Open sockets of a session on every node (cluster/online-counts.ts). */
    private readonly onlineCount: (sessionId: string) => number | Promise<number>
  ) {}

  async authorize (authorization: string | undefined, ctx: RequestContext): Promise<Authed> {
    const a = await this.identity.authenticateBound(authorization, ctx)
    if (!a.user.admin) {
      await this.audit(a, 'denied', `${ctx.method} ${ctx.url.replace(/^https?:\/\/[^/]+/, '')}`, ctx)
      throw new Failure(ErrorCode.forbidden, 'admin role required')
    }
    return a
  }

  /** Records the call (stored before the action runs): `userId` is the admin, `detail` names action and target. */
  async audit (a: Authed, action: AdminAction, target: string, ctx: Pick<RequestContext, 'ip' | 'userAgent'>): Promise<void> {
    await this.identity.securityLog.record('admin_action', {
      userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, userAgent: ctx.userAgent.slice(0, 256), reason: action, detail: { action, target: target.slice(0, 200) }
    })
  }

  /** Stored security events, newest first (`before`: the last id of the previous page). */
  async events (a: Authed, q: SecurityEventQuery, ctx: RequestContext): Promise<SecurityEventRecord[]> {
    await this.audit(a, 'query_events', q.userId ? `user:${q.userId}` : 'all', ctx)
    return this.store.securityEvents(q)
  }

  async users (a: Authed, prefix: string, after: string | undefined, limit: number, ctx: RequestContext): Promise<AdminUserListResponse> {
    await this.audit(a, 'list_users', `prefix:${prefix}`, ctx)
    const page = await this.store.usersByEmailPrefix(prefix.normalize('NFKC').trim().toLowerCase(), after, limit + 1)
    const users = page.slice(0, limit).map(userInfo)
    return page.length > limit ? { users, next: users.at(-1)!.email } : { users }
  }

  async user (a: Authed, userId: string, ctx: RequestContext): Promise<AdminUserInfo> {
    await this.audit(a, 'list_users', `user:${userId}`, ctx)
    return userInfo(await this.target(userId))
  }

  async sessions (a: Authed, userId: string, ctx: RequestContext): Promise<AdminSessionInfo[]> {
    await this.audit(a, 'list_sessions', `user:${userId}`, ctx)
    await this.target(userId)
    const out: AdminSessionInfo[] = []
    for (const s of await this.store.sessionsOfUser(userId)) {
      if (s.endedAt || await this.identity.endIfExpired(s)) continue
      out.push({ id: s.id, deviceName: s.deviceName, platform: s.platform, userAgent: s.userAgent, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, lastIp: s.lastIp, online: await this.onlineCount(s.id) })
    }
    return out.sort((x, y) => y.lastSeenAt - x.lastSeenAt)
  }

  /** Ends every live session of a user (their sockets close on every node); how many. */
  async forceLogout (a: Authed, userId: string, ctx: RequestContext): Promise<number> {
    await this.audit(a, 'force_logout', `user:${userId}`, ctx)
    this.identity.requireStepUp(a)
    await this.target(userId)
    return this.endAll(userId, 'signed_out_by_admin')
  }

  async endSession (a: Authed, sessionId: string, ctx: RequestContext): Promise<void> {
    await this.audit(a, 'end_session', `session:${sessionId}`, ctx)
    this.identity.requireStepUp(a)
    const s = await this.store.sessionById(sessionId)
    if (!s || s.endedAt) throw new Failure(ErrorCode.notFound, 'no such live device session')
    await this.identity.endSession(s, 'signed_out_by_admin')
  }

  /** Disabled: sign-in, refresh and sockets are refused (`account_disabled`), its sessions end now. */
  async setDisabled (a: Authed, userId: string, disabled: boolean, ctx: RequestContext): Promise<AdminUserInfo> {
    await this.audit(a, disabled ? 'disable' : 'enable', `user:${userId}`, ctx)
    this.identity.requireStepUp(a)
    if (disabled && userId === a.user.id) throw new Failure(ErrorCode.conflict, 'an admin cannot disable their own account')
    const user = await this.target(userId)
    if (disabled && !user.disabledAt) user.disabledAt = Date.now()
    if (!disabled) delete user.disabledAt
    await this.store.putUser(user)
    if (disabled) await this.endAll(userId, 'account_disabled')
    return userInfo(user)
  }

  private async endAll (userId: string, reason: 'signed_out_by_admin' | 'account_disabled'): Promise<number> {
    let n = 0
    for (const s of await this.store.sessionsOfUser(userId)) {
      if (s.endedAt) continue
      await this.identity.endSession(s, reason)
      n++
    }
    return n
  }

  private async target (userId: string): Promise<UserRecord> {
    const user = await this.store.userById(userId)
    if (!user) throw new Failure(ErrorCode.notFound, 'no such user')
    return user
  }
}
