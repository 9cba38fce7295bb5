/** Something that must be told once its deadline has passed. */
export interface Expiring {
  /** Called at or after the deadline it was scheduled for (never before). */
  onExpiry (): void
  /**
   * The clock's own bookkeeping, written only by the ExpiryClock that holds the member: the bucket it
   * is due in, or `NOT_SCHEDULED`. Start members with `NOT_SCHEDULED`; a member is on one clock at most.
   */
  expiryBucket: number
}

/** `Expiring.expiryBucket` of a member that is on no clock. */
export const NOT_SCHEDULED = -1

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
 * Each member carries its own bucket number (`expiryBucket`) instead of an entry in a member → bucket
 * Map: a Map entry cost ~46 bytes per socket (a 229 KB table for 5000), a small-integer field 8.
 */
export class ExpiryClock<T extends Expiring> {
  /** Bucket (granules since `origin`, a small integer) → members due in it. */
  private readonly buckets = new Map<number, Set<T>>()
  private members = 0
  /**
   * The buckets' keys as a binary min-heap, so that a tick finds what is due and the next bucket
   * without going over every bucket (with 250 ms granules and 15-minute deadlines there can be
   * thousands, and a tick every granule). Keys of buckets that emptied stay until they come up and
   * are skipped then; past twice the live buckets the heap is rebuilt, so they cannot pile up.
   */
  private keys: number[] = []
  private readonly origin = Date.now()
  private timer: NodeJS.Timeout | null = null
  private armedFor = Infinity

  /** `granularityMs`: members are told at most this long after their deadline. */
  constructor (private readonly granularityMs = DEFAULT_GRANULARITY_MS) {}

  get size (): number { return this.members }

  /** Call `member.onExpiry()` once `at` (ms since epoch) has passed; replaces an earlier schedule. */
  schedule (member: T, at: number): void {
    this.cancel(member)
    const key = Math.max(0, Math.ceil((at - this.origin) / this.granularityMs))
    let bucket = this.buckets.get(key)
    if (!bucket) {
      this.buckets.set(key, (bucket = new Set()))
      this.pushKey(key)
    }
    bucket.add(member)
    member.expiryBucket = key
    this.members++
    if (key < this.armedFor) this.arm(key)
  }

  cancel (member: T): void {
    const key = member.expiryBucket
    if (key === NOT_SCHEDULED) return
    member.expiryBucket = NOT_SCHEDULED
    this.members--
    const bucket = this.buckets.get(key)!
    bucket.delete(member)
    if (bucket.size === 0) this.buckets.delete(key)
    // The timer may stay armed for a bucket that emptied: it then fires, finds nothing and re-arms.
  }

  stop (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.armedFor = Infinity
    for (const bucket of this.buckets.values()) for (const member of bucket) member.expiryBucket = NOT_SCHEDULED
    this.buckets.clear()
    this.members = 0
    this.keys = []
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
    const due: T[] = []
    while (this.keys.length > 0 && this.origin + this.keys[0]! * this.granularityMs <= now) {
      const key = this.popKey()
      const bucket = this.buckets.get(key)
      if (!bucket) continue // emptied by cancels, or a duplicate key already handled
      for (const member of bucket) { due.push(member); member.expiryBucket = NOT_SCHEDULED }
      this.members -= bucket.size
      this.buckets.delete(key)
    }
    while (this.keys.length > 0 && !this.buckets.has(this.keys[0]!)) this.popKey()
    if (this.keys.length > 0) this.arm(this.keys[0]!)
    // After the bookkeeping, so that a member may reschedule itself from its callback.
    for (const member of due) member.onExpiry()
  }

  private pushKey (key: number): void {
    if (this.keys.length >= 2 * this.buckets.size + 16) {
      // Mostly keys of emptied buckets: start again from the live ones (a sorted array is a min-heap).
      this.keys = [...this.buckets.keys()].sort((a, b) => a - b)
      return // `key`'s bucket exists already, so it is among them
    }
    const h = this.keys
    let i = h.length
    h.push(key)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent]! <= key) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = key
  }

  private popKey (): number {
    const h = this.keys
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      for (;;) {
        let child = 2 * i + 1
        if (child >= h.length) break
        if (child + 1 < h.length && h[child + 1]! < h[child]!) child++
        if (h[child]! >= last) break
        h[i] = h[child]!
        i = child
      }
      h[i] = last
    }
    return top
  }
}
