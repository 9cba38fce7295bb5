/** Something that must be told once its deadline has passed. */
export interface Expiring {
  /** Called at or after the deadline it was scheduled for (never before). */
  onExpiry (): void
}

/** By default deadlines are kept per whole second: a socket closes within a second after its token expires. */
const DEFAULT_GRANULARITY_MS = 1000
/** setTimeout overflows past 2^31 ms; a later first bucket is reached in steps of this. */
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * Credential expiry for every open socket, on one timer.
 *
 * Why not a `setTimeout` per socket: each costs a Timeout object, a closure, two boxed numbers and,
 * because every token has its own remaining lifetime in ms, often a timer list of its own (Node
 * keeps one list per distinct duration; 5000 idle devices made 1601 of them). Here a socket costs one
 * entry in the Set of the second its deadline falls in, and only the earliest second holds a timer.
 */
export class ExpiryClock<T extends Expiring> {
  /** Bucket (granules since `origin`, a small integer) → members due in it. */
  private readonly buckets = new Map<number, Set<T>>()
  private readonly bucketOf = new Map<T, number>()
  private readonly origin = Date.now()
  private timer: NodeJS.Timeout | null = null
  private armedFor = Infinity

  /** `granularityMs`: members are told at most this long after their deadline. */
  constructor (private readonly granularityMs = DEFAULT_GRANULARITY_MS) {}

  get size (): number { return this.bucketOf.size }

  /** Call `member.onExpiry()` once `at` (ms since epoch) has passed; replaces an earlier schedule. */
  schedule (member: T, at: number): void {
    this.cancel(member)
    const key = Math.max(0, Math.ceil((at - this.origin) / this.granularityMs))
    let bucket = this.buckets.get(key)
    if (!bucket) this.buckets.set(key, (bucket = new Set()))
    bucket.add(member)
    this.bucketOf.set(member, key)
    if (key < this.armedFor) this.arm(key)
  }

  cancel (member: T): void {
    const key = this.bucketOf.get(member)
    if (key === undefined) return
    this.bucketOf.delete(member)
    const bucket = this.buckets.get(key)!
    bucket.delete(member)
    if (bucket.size === 0) this.buckets.delete(key)
    // The timer may stay armed for a bucket that emptied: it then fires, finds nothing and re-arms.
  }

  stop (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.armedFor = Infinity
    this.buckets.clear()
    this.bucketOf.clear()
  }

  private arm (key: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.armedFor = key
    const delay = Math.min(Math.max(0, this.origin + key * this.granularityMs - Date.now()), MAX_DELAY_MS)
    this.timer = setTimeout(this.tick, delay)
    this.timer.unref()
  }

  private readonly tick = (): void => {
    this.timer = null
    this.armedFor = Infinity
    const now = Date.now()
    let next = Infinity
    const due: T[] = []
    for (const [key, bucket] of this.buckets) {
      if (this.origin + key * this.granularityMs <= now) {
        for (const member of bucket) { due.push(member); this.bucketOf.delete(member) }
        this.buckets.delete(key)
      } else if (key < next) next = key
    }
    if (next !== Infinity) this.arm(next)
    // After the bookkeeping, so that a member may reschedule itself from its callback.
    for (const member of due) member.onExpiry()
  }
}
