import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'
import { MAX_PENDING_PER_IP, type ChallengeStore } from './challenge-store.js'

interface Pending { challenge: string, expiresAt: number, ip?: string }

/** Challenges in this process, at most MAX_PENDING in all (expired ones are swept when full). */
export class MemoryChallengeStore implements ChallengeStore {
  static readonly MAX_PENDING = 10_000
  private readonly pending = new Map<string, Pending>()
  private readonly attemptsByIp = new Map<string, string[]>()

  async issue (key: string, challenge: string, ttlMs: number, ip?: string): Promise<void> {
    this.issueNow(key, challenge, ttlMs, ip)
  }

  /** Synchronous form, for the Redis store's fallback. */
  issueNow (key: string, challenge: string, ttlMs: number, ip?: string): void {
    const now = Date.now()
    const max = MemoryChallengeStore.MAX_PENDING
    if (this.pending.size >= max) this.sweep(now)
    if (this.pending.size >= max && !this.pending.has(key)) throw new Failure(ErrorCode.rateLimited, 'too many passkey ceremonies in progress: try again shortly', 5)
    const before = this.pending.get(key)
    if (before?.ip !== undefined) this.unlist(key, before.ip)
    this.pending.set(key, { challenge, expiresAt: now + ttlMs, ip })
    if (ip === undefined) return
    const mine = this.attemptsByIp.get(ip) ?? []
    mine.push(key)
    while (mine.length > MAX_PENDING_PER_IP) this.pending.delete(mine.shift()!)
    this.attemptsByIp.set(ip, mine)
  }

  async take (key: string): Promise<string | undefined> { return this.takeNow(key) }

  takeNow (key: string): string | undefined {
    const p = this.pending.get(key)
    if (!p) return undefined
    this.pending.delete(key)
    if (p.ip !== undefined) this.unlist(key, p.ip)
    return p.expiresAt > Date.now() ? p.challenge : undefined
  }

  private unlist (key: string, ip: string): void {
    const mine = this.attemptsByIp.get(ip)
    if (!mine) return
    const i = mine.indexOf(key)
    if (i >= 0) mine.splice(i, 1)
    if (mine.length === 0) this.attemptsByIp.delete(ip)
  }

  private sweep (now: number): void {
    for (const [key, p] of this.pending) {
      if (p.expiresAt > now) continue
      this.pending.delete(key)
      if (p.ip !== undefined) this.unlist(key, p.ip)
    }
  }
}
