/**
 * Log-bucketed latency histogram (1 % relative bucket width, 0.01 ms … ~100 s) that merges across
 * generator processes: each process sends its buckets over IPC instead of raw samples.
 */
const MIN_MS = 0.01
const GROWTH = Math.log(1.01)

export interface Hist { buckets: Record<number, number>, count: number, max: number }

export const emptyHist = (): Hist => ({ buckets: {}, count: 0, max: 0 })

const bucketOf = (ms: number) => ms <= MIN_MS ? 0 : Math.ceil(Math.log(ms / MIN_MS) / GROWTH)
/** Upper edge of a bucket: a percentile read from it is at most 1 % high. */
const edgeOf = (b: number) => MIN_MS * Math.exp(b * GROWTH)

export const histOf = (samples: ArrayLike<number>): Hist => {
  const h = emptyHist()
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(0, samples[i]!)
    const b = bucketOf(v)
    h.buckets[b] = (h.buckets[b] ?? 0) + 1
    h.count++
    if (v > h.max) h.max = v
  }
  return h
}

export const mergeHists = (hs: Hist[]): Hist => {
  const out = emptyHist()
  for (const h of hs) {
    for (const [b, n] of Object.entries(h.buckets)) out.buckets[Number(b)] = (out.buckets[Number(b)] ?? 0) + n
    out.count += h.count
    out.max = Math.max(out.max, h.max)
  }
  return out
}

/** Nearest-rank percentile (0 for an empty histogram), capped at the exact maximum. */
export const histPercentile = (h: Hist, p: number): number => {
  if (h.count === 0) return 0
  const rank = Math.max(1, Math.ceil((p / 100) * h.count))
  let seen = 0
  for (const b of Object.keys(h.buckets).map(Number).sort((a, c) => a - c)) {
    seen += h.buckets[b]!
    if (seen >= rank) return Math.min(edgeOf(b), h.max)
  }
  return h.max
}
