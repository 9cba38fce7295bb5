import { createHmac, randomUUID } from 'node:crypto'
import type { Logger } from '../observe/logger.js'
import type { HookNotification } from './hooks.js'

export interface WebhookOptions {
  url: string
  secret: string
  logger: Logger
  /** First retry after this long, doubling (with jitter) up to 60 s. */
  retryBaseMs?: number
  /** Attempts per notification in all, the first included. */
  maxAttempts?: number
  /** Notifications waiting or in flight; a new one past this is dropped (and logged). */
  maxPending?: number
  timeoutMs?: number
}

/** Header names a receiver checks (docs/operations.md, Webhooks). */
export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the shared secret>`. */
export const webhookSignature = (secret: string, timestamp: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`

/**
 * Outgoing webhooks: each notification is POSTed as JSON `{ id, type, at, data }`, signed with
 * HMAC-SHA256 over the timestamp and body. Network errors, timeouts, 408, 429 and 5xx answers are
 * retried with exponential backoff, at most `maxAttempts` times; other answers end the delivery.
 * Deliveries run concurrently, never on the caller's path, and at most `maxPending` at a time.
 */
export class WebhookSender {
  private pending = 0
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false
  private dropped = 0

  constructor (private readonly opts: WebhookOptions) {}

  send = (n: HookNotification): void => {
    if (this.closed) return
    if (this.pending >= (this.opts.maxPending ?? 1000)) {
      if (this.dropped++ % 100 === 0) this.opts.logger.warn({ type: n.type, dropped: this.dropped }, 'webhook queue full: notification dropped')
      return
    }
    this.pending++
    const id = randomUUID()
    void this.attempt(id, n.type, JSON.stringify({ id, type: n.type, at: Date.now(), data: n.data }), 1)
  }

  private async attempt (id: string, type: string, body: string, attempt: number): Promise<void> {
    const timestamp = String(Math.floor(Date.now() / 1000))
    let status = 0
    try {
      const res = await fetch(this.opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: webhookSignature(this.opts.secret, timestamp, body)
        },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        redirect: 'manual'
      })
      status = res.status
      await res.body?.cancel()
    } catch { /* network error or timeout: status 0, retried */ }
    const retry = status === 0 || status === 408 || status === 429 || status >= 500
    if (!retry || attempt >= (this.opts.maxAttempts ?? 6) || this.closed) {
      if (status < 200 || status >= 300) this.opts.logger.warn({ type, id, status, attempts: attempt }, 'webhook delivery failed')
      this.pending--
      return
    }
    const base = this.opts.retryBaseMs ?? 1000
    const delay = Math.min(60_000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
    const timer = setTimeout(() => { this.timers.delete(timer); void this.attempt(id, type, body, attempt + 1) }, delay)
    timer.unref()
    this.timers.add(timer)
  }

  /** Stops retrying; deliveries in flight finish on their own. */
  close (): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.pending -= this.timers.size
    this.timers.clear()
  }
}
