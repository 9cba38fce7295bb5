import { ErrorCode, sessionDocName, type DeleteAccountRequest } from '../../shared/api.js'
import type { Drafts } from '../access/drafts.js'
import { Failure } from '../errors.js'
import type { SessionStore } from '../storage/session-store.js'
import type { Authed, Identity, RequestContext } from './identity.js'
import { verifyPassword } from './passwords.js'

/**
 * Deleting an account (`DELETE /me`). Confirmed by a fresh second factor (step-up) when MFA is on,
 * else by the password. In order: every device session ends at once, on every node (close 4403
 * `account_deleted`); each owned draft goes to the member named in `transfer` or is deleted with
 * its content; memberships in others' drafts end; the session document's content is deleted; then
 * every record of the account (SessionStore.deleteAccount: sessions, refresh-hash entries, passkeys,
 * device grants, security events, the user and its email). Its tokens then fail everywhere.
 */
export class AccountDeletion {
  constructor (
    private readonly store: SessionStore,
    private readonly identity: Identity,
    private readonly drafts: Drafts,
    /** Closes a document's sockets and deletes its content for good. */
    private readonly purgeDoc: (docName: string) => Promise<void>
  ) {}

  async delete (a: Authed, req: DeleteAccountRequest, ctx: RequestContext): Promise<void> {
    await this.confirm(a, req.password, ctx)
    const userId = a.user.id
    const docs = await this.store.docsOfUser(userId)
    const transfer = req.transfer ?? {}
    // Every transfer is checked before anything changes: a wrong one refuses the whole deletion.
    for (const [draftId, to] of Object.entries(transfer)) {
      const d = docs.find(x => x.id === draftId)
      if (!d || d.ownerId !== userId) throw new Failure(ErrorCode.invalidRequest, `transfer: you own no draft ${draftId}`)
      if (!d.members[to]) throw new Failure(ErrorCode.invalidRequest, `transfer: draft ${draftId} can only go to one of its members`)
    }
    await this.identity.securityLog.record('account_deleted', { userId, sessionId: a.session.id, ip: ctx.ip, userAgent: ctx.userAgent })
    for (const s of await this.store.sessionsOfUser(userId)) await this.identity.endSession(s, 'account_deleted')
    for (const d of docs) {
      if (d.ownerId !== userId) await this.drafts.removeMember(userId, d.id, userId)
      else if (transfer[d.id]) await this.drafts.transfer(userId, d.id, transfer[d.id]!)
      else await this.drafts.remove(userId, d.id)
    }
    await this.purgeDoc(sessionDocName(userId))
    await this.store.deleteAccount(userId)
  }

  private async confirm (a: Authed, password: string | undefined, ctx: RequestContext): Promise<void> {
    if (a.user.mfaSecret) { this.identity.requireStepUp(a); return }
    if (password === undefined) throw new Failure(ErrorCode.invalidCredentials, 'confirm with your password (`password`)')
    await this.identity.guard({ account: a.user.email, ip: ctx.ip }, ctx)
    if (!await verifyPassword(a.user.passwordHash, password)) {
      await this.identity.failedAttempt({ account: a.user.email, ip: ctx.ip })
      throw new Failure(ErrorCode.invalidCredentials, 'password is wrong')
    }
  }
}
