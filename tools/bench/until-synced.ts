import type { RawClient } from '../../test/helpers/raw-client.js'

/**
 * Milliseconds from now until `c` has its sync step 2, checked every turn (not waitFor's 10 ms
 * polls: the answer takes about that long); rejects after `timeoutMs`.
 */
export const untilSynced = (c: RawClient, timeoutMs = 30_000): Promise<number> => {
  const opened = performance.now()
  const deadline = opened + timeoutMs
  return new Promise<number>((resolve, reject) => {
    const check = () => c.synced ? resolve(performance.now() - opened) : performance.now() > deadline ? reject(new Error('no sync step 2')) : setImmediate(check)
    check()
  })
}
