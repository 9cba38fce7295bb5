import { randomUUID } from 'node:crypto'
import type { DocInfo, DocRole } from '../../shared/api.js'
import { ErrorCode, draftDocName } from '../../shared/api.js'
import { Failure } from '../errors.js'
import type { DocRecord, SessionStore } from '../storage/session-store.js'
import { validEmail } from '../identity/email.js'
import { RateLimited, type HourlyBudget } from '../identity/rate-limits.js'

export const roleOf = (d: DocRecord, userId: string): DocRole | undefined =>
  d.ownerId === userId ? 'owner' : d.members[userId]

/**
 * Shared drafts: metadata and membership. The content lives in the Yjs document `draft:<id>`; who
 * may open it (and whether for writing) is decided here, by `accessTo`.
 */
export class Drafts {
  constructor (
    private readonly store: SessionStore,
    private readonly onAccessRemoved: (docName: string, userId: string) => void,
    private readonly onDeleted: (docName: string) => Promise<void>,
    private readonly memberAdds: HourlyBudget
  ) {}

  async create (userId: string, title: string): Promise<DocInfo> {
    const now = Date.now()
    const d: DocRecord = { id: randomUUID(), title, ownerId: userId, createdAt: now, updatedAt: now, members: {} }
    await this.store.putDoc(d)
    return this.info(d, userId, true)
  }

  async list (userId: string): Promise<DocInfo[]> {
    const docs = await this.store.docsOfUser(userId)
    const out = await Promise.all(docs.map(d => this.info(d, userId, roleOf(d, userId) === 'owner')))
    return out.sort((a, b) => b.updatedAt - a.updatedAt)
  }

  async get (userId: string, id: string): Promise<DocInfo> {
    const d = await this.visible(userId, id)
    return this.info(d, userId, true)
  }

  async rename (userId: string, id: string, title: string): Promise<DocInfo> {
    const d = await this.visible(userId, id)
    if (roleOf(d, userId) === 'viewer') throw new Failure(ErrorCode.forbidden, 'viewers cannot rename')
    d.title = title
    d.updatedAt = Date.now()
    await this.store.putDoc(d)
    return this.info(d, userId, true)
  }

  async remove (userId: string, id: string): Promise<void> {
    const d = await this.owned(userId, id)
    await this.store.deleteDoc(d)
    // Access is gone first, so nobody reopens it while its content is deleted.
    await this.onDeleted(draftDocName(d.id))
  }

  /**
   * Shares a draft with the account of `email`. The answer tells whether the email has an account
   * (the owner must learn that a share reached nobody: there is no email delivery to invite with), so
   * every addition spends one of the owner's and one of the IP's hourly additions, found or not.
   */
  async addMember (userId: string, id: string, email: string, role: 'editor' | 'viewer', ip: string): Promise<DocInfo> {
    const d = await this.owned(userId, id)
    const canonical = validEmail(email)
    try { await this.memberAdds.spend(`user:${userId}`, `ip:${ip}`) } catch (err) {
      if (err instanceof RateLimited) throw new Failure(ErrorCode.rateLimited, 'too many shares: try again later', err.retryAfterS)
      throw err
    }
    const member = await this.store.userByEmail(canonical)
    if (!member) throw new Failure(ErrorCode.notFound, 'no account with this email')
    if (member.id === d.ownerId) throw new Failure(ErrorCode.conflict, 'the owner is already a member')
    const downgraded = d.members[member.id] === 'editor' && role === 'viewer'
    d.members[member.id] = role
    d.updatedAt = Date.now()
    await this.store.putDoc(d)
    // Open sockets carry the role they were opened with: reconnecting picks up the new one.
    if (downgraded) this.onAccessRemoved(draftDocName(d.id), member.id)
    return this.info(d, userId, true)
  }

  /** The owner removes anyone; a member may remove themselves (leave). */
  async removeMember (userId: string, id: string, memberId: string): Promise<void> {
    const d = await this.visible(userId, id)
    if (roleOf(d, userId) !== 'owner' && memberId !== userId) throw new Failure(ErrorCode.forbidden, 'only the owner can remove members')
    if (!d.members[memberId]) throw new Failure(ErrorCode.notFound, 'not a member')
    delete d.members[memberId]
    d.updatedAt = Date.now()
    await this.store.putDoc(d)
    this.onAccessRemoved(draftDocName(d.id), memberId)
  }

  /** Makes `toUserId`, a member, the owner of a draft `ownerId` owns; the former owner leaves it. */
  async transfer (ownerId: string, id: string, toUserId: string): Promise<void> {
    const d = await this.owned(ownerId, id)
    if (!d.members[toUserId]) throw new Failure(ErrorCode.invalidRequest, `draft ${id} can only go to one of its members`)
    delete d.members[toUserId]
    d.ownerId = toUserId
    d.updatedAt = Date.now()
    await this.store.putDoc(d)
    this.onAccessRemoved(draftDocName(d.id), ownerId)
  }

  /** Whether the draft exists (was not deleted). */
  async exists (id: string): Promise<boolean> {
    return Boolean(await this.store.docById(id))
  }

  /** Socket access to `draft:<id>` for a user, or undefined when they have none. */
  async accessTo (id: string, userId: string): Promise<'read' | 'write' | undefined> {
    const d = await this.store.docById(id)
    const role = d && roleOf(d, userId)
    return role === undefined ? undefined : role === 'viewer' ? 'read' : 'write'
  }

  private async visible (userId: string, id: string): Promise<DocRecord> {
    const d = await this.store.docById(id)
    // Someone else's draft is "not found", not "forbidden": ids are not confirmed to outsiders.
    if (!d || roleOf(d, userId) === undefined) throw new Failure(ErrorCode.notFound, 'no such draft')
    return d
  }

  private async owned (userId: string, id: string): Promise<DocRecord> {
    const d = await this.visible(userId, id)
    if (d.ownerId !== userId) throw new Failure(ErrorCode.forbidden, 'only the owner can do this')
    return d
  }

  private async info (d: DocRecord, userId: string, withMembers: boolean): Promise<DocInfo> {
    const info: DocInfo = { id: d.id, docName: draftDocName(d.id), title: d.title, ownerId: d.ownerId, role: roleOf(d, userId)!, createdAt: d.createdAt, updatedAt: d.updatedAt }
    if (withMembers) {
      const ids = [d.ownerId, ...Object.keys(d.members)]
      const users = await Promise.all(ids.map(id => this.store.userById(id)))
      info.members = ids.map((id, i) => ({ userId: id, email: users[i]?.email ?? '', role: roleOf(d, id)! }))
    }
    return info
  }
}
