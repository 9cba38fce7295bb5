/** Latency samples and their summary. Sorting once at the end is cheaper than a streaming sketch here. */
export class Samples {
  private values: number[] = []
  add (v: number) { this.values.push(v) }
  get count () { return this.values.length }
  merge (other: number[]) { for (const v of other) this.values.push(v) }
  raw () { return this.values }
  summary (): LatencySummary {
    const sorted = Float64Array.from(this.values).sort()
    return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : 0 }
  }
}

export interface LatencySummary { count: number, p50: number, p95: number, p99: number, max: number }

/** Nearest-rank percentile of an ascending array (0 for none). */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** Counts of things by kind (errors, close codes). */
export class Tally {
  readonly counts = new Map<string, number>()
  add (kind: string, n = 1) { this.counts.set(kind, (this.counts.get(kind) ?? 0) + n) }
  get total () { let t = 0; for (const v of this.counts.values()) t += v; return t }
  toJSON () { return Object.fromEntries(this.counts) }
}
