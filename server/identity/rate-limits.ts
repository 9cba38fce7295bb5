import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { LimiterFactory } from '../cluster/limiters.js'

export class RateLimited extends Error {
  constructor (readonly retryAfterS: number) { super('too many attempts') }
}

const WINDOW_S = 15 * 60
const retryAfterS = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000))

/**
 * Failed-attempt budgets for the credential endpoints (login, MFA, step-up, refresh), per account and
 * per IP, over a 15-minute window. Only failures count: a busy office behind one NAT address, or a
 * device refreshing its token, never locks anyone out; guessing does. `rate-limiter-flexible` keeps the
 * counters, in memory or on Redis (`limiters`); `name` tells these budgets from other ones.
 */
export class AuthRateLimits {
  private readonly account: RateLimiterAbstract
  private readonly ip: RateLimiterAbstract

  constructor (limiters: LimiterFactory, name: string, private readonly perAccount: number, private readonly perIp: number) {
    this.account = limiters({ keyPrefix: `${name}:acct`, points: Math.max(1, perAccount), duration: WINDOW_S })
    this.ip = limiters({ keyPrefix: `${name}:ip`, points: Math.max(1, perIp), duration: WINDOW_S })
  }

  /** Throws RateLimited when a budget is used up; call before checking a credential. */
  async check (keys: { account?: string, ip?: string }): Promise<void> {
    for (const [limiter, key, points] of [[this.ip, keys.ip, this.perIp], [this.account, keys.account, this.perAccount]] as const) {
      if (!key) continue
      const res = await limiter.get(key)
      if (res && res.consumedPoints >= points) throw new RateLimited(retryAfterS(res))
    }
  }

  /** Records one failed attempt against each given budget. */
  async fail (keys: { account?: string, ip?: string }): Promise<void> {
    const spend = async (limiter: RateLimiterAbstract, key?: string) => {
      if (!key) return
      try { await limiter.consume(key) } catch (res) { if (!(res instanceof RateLimiterRes)) throw res }
    }
    await spend(this.ip, keys.ip)
    await spend(this.account, keys.account)
  }

  /** A successful sign-in clears the account's failures (the IP budget keeps counting). */
  async reset (account: string): Promise<void> { await this.account.delete(account) }
}

/**
 * `points` actions per key per hour, whatever their outcome: for answers that must not come fast
 * (whether an email has an account). Each key is its own budget; callers namespace them (`ip:…`).
 */
export class HourlyBudget {
  private readonly limiter: RateLimiterAbstract

  constructor (limiters: LimiterFactory, name: string, points: number) {
    this.limiter = limiters({ keyPrefix: name, points: Math.max(1, points), duration: 60 * 60 })
  }

  /** Spends one action from every key's budget; throws RateLimited when any of them was used up. */
  async spend (...keys: string[]): Promise<void> {
    let limited: RateLimiterRes | undefined
    for (const key of keys) {
      try { await this.limiter.consume(key) } catch (res) {
        if (!(res instanceof RateLimiterRes)) throw res
        if (!limited || res.msBeforeNext > limited.msBeforeNext) limited = res
      }
    }
    if (limited) throw new RateLimited(retryAfterS(limited))
  }
}
