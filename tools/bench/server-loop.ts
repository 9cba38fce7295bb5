/**
 * How our server's own event loop fared during a bench step, read from its `/metrics` (prom-client's
 * default Node metrics). This separates the server's stalls (a long GC, a long turn of work) from the
 * machine's: a p99 of 150 ms with a longest server stall of 20 ms was not made by the server's loop.
 *
 * prom-client samples the loop with `monitorEventLoopDelay` every 10 ms and resets that histogram on
 * every scrape, so a scrape before the step starts a fresh window and one after it reads the step.
 * Its delays include the 10 ms sampling interval itself, which is subtracted here.
 */

/** The sampling interval prom-client's loop monitor runs at (its default, which the server keeps). */
const SAMPLE_MS = 10

export interface LoopStats {
  /** 99th percentile and longest event-loop stall in the window, ms. */
  p99StallMs: number
  maxStallMs: number
  /** Time spent in GC pauses in the window (ms), and how many of them took ≥ 10 ms. */
  gcMs: number
  gcSlow: number
}

interface Scrape { p99: number, max: number, gcSeconds: number, gcCount: number, gcUnder10ms: number }

/** The values of every sample named `name` (whose labels include `labels`). */
const sample = (text: string, name: string, labels = ''): number[] => {
  const out: number[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    if (labels && !rest.includes(labels)) continue
    out.push(Number(line.slice(line.lastIndexOf(' ') + 1)))
  }
  return out
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

const parse = (text: string): Scrape => ({
  p99: sample(text, 'nodejs_eventloop_lag_p99_seconds')[0] ?? NaN,
  max: sample(text, 'nodejs_eventloop_lag_max_seconds')[0] ?? NaN,
  gcSeconds: sum(sample(text, 'nodejs_gc_duration_seconds_sum')),
  gcCount: sum(sample(text, 'nodejs_gc_duration_seconds_count')),
  gcUnder10ms: sum(sample(text, 'nodejs_gc_duration_seconds_bucket', 'le="0.01"'))
})

/** Scrape `/metrics`; null when the target has none (peers, the relay) or it did not answer. */
export const scrapeLoop = async (httpUrl: string): Promise<Scrape | null> => {
  try {
    const res = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) return null
    const s = parse(await res.text())
    return Number.isFinite(s.max) ? s : null
  } catch {
    return null
  }
}

/** The step's figures from a scrape just before it and one just after. */
export const loopStatsBetween = (before: Scrape | null, after: Scrape | null): LoopStats | null => {
  if (!before || !after) return null
  const stall = (seconds: number) => Math.max(0, seconds * 1000 - SAMPLE_MS)
  return {
    p99StallMs: stall(after.p99),
    maxStallMs: stall(after.max),
    gcMs: (after.gcSeconds - before.gcSeconds) * 1000,
    gcSlow: (after.gcCount - before.gcCount) - (after.gcUnder10ms - before.gcUnder10ms)
  }
}
