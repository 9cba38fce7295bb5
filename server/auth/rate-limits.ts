import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'

export class RateLimited extends Error {
  constructor (readonly retryAfterS: number) { super('too many attempts') }
}

const WINDOW_S = 15 * 60

/**
 * Attempt budgets for the credential endpoints (login, MFA, refresh), per account and per IP, in a
 * 15-minute window. `rate-limiter-flexible` keeps the counters; its Redis store can replace the memory
 * one when several processes serve the API.
 */
export class AuthRateLimits {
  private readonly account: RateLimiterMemory
  private readonly ip: RateLimiterMemory

  constructor (perAccount: number, perIp: number) {
    this.account = new RateLimiterMemory({ keyPrefix: 'acct', points: Math.max(1, perAccount), duration: WINDOW_S })
    this.ip = new RateLimiterMemory({ keyPrefix: 'ip', points: Math.max(1, perIp), duration: WINDOW_S })
  }

  /** Spends one attempt from each given budget; throws RateLimited when one is exhausted. */
  async spend (keys: { account?: string, ip?: string }): Promise<void> {
    try {
      if (keys.ip) await this.ip.consume(keys.ip)
      if (keys.account) await this.account.consume(keys.account)
    } catch (res) {
      if (res instanceof RateLimiterRes) throw new RateLimited(Math.max(1, Math.ceil(res.msBeforeNext / 1000)))
      throw res
    }
  }

  /** A successful login clears the account's failures (the IP budget keeps counting). */
  async reset (account: string): Promise<void> { await this.account.delete(account) }
}
