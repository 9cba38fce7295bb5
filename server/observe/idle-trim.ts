import type { Logger } from 'pino'

/**
 * Gives memory back once the server goes quiet after a burst of work (a wave of logins, thousands of
 * devices connecting), by asking V8 for a low-memory collection.
 *
 * Why: after a burst V8 keeps the bytecode, type feedback and caches of everything the burst ran (the
 * login path: fastify's routing and validators, jose, the password hasher's wrapper, LevelDB's JS).
 * Its own memory reducer runs ordinary full collections, which keep bytecode until it has gone unused
 * through several of them; an idle server does too few. Measured with 5000 idle devices (`npm run bench
 * -- --mode idle`): a low-memory collection at +30 s took RSS from 101 to 88 MB, and it settled at
 * 86 MB against 95-97 MB without.
 *
 * How: Node has no API for V8's LowMemoryNotification. The inspector protocol's
 * `HeapProfiler.collectGarbage` is that call, reached in-process through `node:inspector` (a session
 * inside the process; no port is opened). A Node built without the inspector simply never trims.
 *
 * When: activity (sync traffic, HTTP requests other than monitoring) is sampled every `idleMs`; the
 * first sample that finds none since the one before, after some activity since the last trim, trims.
 * So a trim comes `idleMs`-`2 idleMs` after a burst ends, once per burst; a quiet server, or one only
 * scraped by Prometheus, is never trimmed again.
 *
 * Cost: one collection of the whole heap while nothing else runs, and the code the burst ran is
 * compiled again the next time it runs.
 */
export interface IdleTrim { stop (): void }

export const startIdleTrim = (opts: { idleMs: number, activity: () => number, onTrim: (ms: number) => void, logger: Logger }): IdleTrim => {
  let seen = opts.activity()
  let busySinceTrim = false
  let trimming = false
  const check = () => {
    const now = opts.activity()
    if (now !== seen) { seen = now; busySinceTrim = true; return }
    if (!busySinceTrim || trimming) return
    busySinceTrim = false
    trimming = true
    lowMemoryCollection().then(ms => {
      if (ms !== null) {
        opts.onTrim(ms)
        opts.logger.debug({ ms }, 'idle: low-memory collection')
      }
    }, err => opts.logger.warn({ err: (err as Error).message }, 'idle: low-memory collection failed'))
      .finally(() => { trimming = false; seen = opts.activity() })
  }
  const timer = setInterval(check, opts.idleMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

/** V8's LowMemoryNotification through the inspector protocol; how long it took, or null without an inspector. */
const lowMemoryCollection = async (): Promise<number | null> => {
  let inspector: typeof import('node:inspector')
  try { inspector = await import('node:inspector') } catch { return null }
  const session = new inspector.Session()
  session.connect()
  const started = performance.now()
  try {
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', err => { if (err) reject(err); else resolve() }))
    return performance.now() - started
  } finally {
    session.disconnect()
  }
}
