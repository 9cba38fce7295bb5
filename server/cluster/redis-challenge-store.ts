import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { MAX_PENDING_PER_IP, type ChallengeStore } from './challenge-store.js'
import { MemoryChallengeStore } from './memory-challenge-store.js'

/**
 * Sets the challenge and lists it among its IP's open attempts, dropping the oldest beyond the cap.
 * KEYS: challenge key, the IP's list. ARGV: value, ttl ms, cap.
 */
const ISSUE_FOR_IP = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('LREM', KEYS[2], 0, KEYS[1])
redis.call('RPUSH', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
while redis.call('LLEN', KEYS[2]) > tonumber(ARGV[3]) do
  redis.call('DEL', redis.call('LPOP', KEYS[2]))
end
return 1`

interface Stored { c: string, e: number, ip?: string }

/**
 * Challenges shared by every node: `<prefix>challenge:<key>` (`SET PX`, taken with `GETDEL`, Redis
 * 6.2+), each sign-in attempt also listed in `<prefix>challenge-ip:<ip>` so that an address keeps at
 * most MAX_PENDING_PER_IP open. Entries expire with their ttl, which bounds what Redis holds.
 *
 * While Redis cannot be reached, challenges are kept in this node's memory: a ceremony then has to
 * finish on the node it started on (a device whose second request lands elsewhere starts again).
 */
export class RedisChallengeStore implements ChallengeStore {
  private readonly fallback = new MemoryChallengeStore()
  private failing = false

  constructor (private readonly redis: Redis, private readonly prefix: string, private readonly logger: Logger) {}

  private key (key: string): string { return `${this.prefix}challenge:${key}` }
  private ipKey (ip: string): string { return `${this.prefix}challenge-ip:${ip}` }

  async issue (key: string, challenge: string, ttlMs: number, ip?: string): Promise<void> {
    const value = JSON.stringify({ c: challenge, e: Date.now() + ttlMs, ip } satisfies Stored)
    try {
      this.ready()
      if (ip === undefined) await this.redis.set(this.key(key), value, 'PX', ttlMs)
      else await this.redis.eval(ISSUE_FOR_IP, 2, this.key(key), this.ipKey(ip), value, ttlMs, MAX_PENDING_PER_IP)
      this.back()
    } catch (err) {
      this.down(err)
      this.fallback.issueNow(key, challenge, ttlMs, ip)
    }
  }

  async take (key: string): Promise<string | undefined> {
    const local = this.fallback.takeNow(key)
    if (local !== undefined) return local
    let raw: string | null
    try {
      this.ready()
      raw = await this.redis.getdel(this.key(key))
      this.back()
    } catch (err) {
      this.down(err)
      return undefined
    }
    if (raw === null) return undefined
    let stored: Stored
    try { stored = JSON.parse(raw) as Stored } catch { return undefined }
    if (stored.ip !== undefined) this.redis.lrem(this.ipKey(stored.ip), 0, this.key(key)).catch(() => {})
    return stored.e > Date.now() ? stored.c : undefined
  }

  private ready (): void {
    if (this.redis.status !== 'ready') throw new Error(`connection ${this.redis.status}`)
  }

  private back (): void {
    if (this.failing) this.logger.info('passkey challenges are shared through Redis again')
    this.failing = false
  }

  private down (err: unknown): void {
    if (!this.failing) this.logger.error({ err: (err as Error).message }, 'Redis unreachable: passkey challenges are kept on this node until it is back')
    this.failing = true
  }
}
