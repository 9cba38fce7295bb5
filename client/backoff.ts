/**
 * Exponential backoff with full jitter: spreads reconnecting devices out after a server restart
 * instead of having them all retry in lockstep.
 */
export interface BackoffOptions { baseMs?: number, maxMs?: number }

export const backoffDelay = (attempt: number, { baseMs = 250, maxMs = 10_000 }: BackoffOptions = {}): number => {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20))
  // Half fixed, half random: never zero (no hot loop), never all devices at once.
  return ceiling / 2 + Math.random() * ceiling / 2
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** A timer that does not keep a Node process alive (browsers return a number without unref). */
export const unrefTimer = <T>(t: T): T => {
  (t as { unref?: () => void }).unref?.()
  return t
}
