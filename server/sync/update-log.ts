/**
 * The updates a room accepted since its last merge, copied into one growing buffer instead of kept as
 * one Uint8Array each. Why: a big document's log holds thousands of small updates until its next
 * compaction, and as separate Uint8Arrays each would be two heap objects and a backing store that every
 * full GC visits.
 *
 * `push` returns the copy as a view of the buffer, which the store keeps until its batch is written. A
 * buffer is never written twice at the same place: growing copies into a new one, and `clear` and
 * `dropFirst` drop it, so a view handed out keeps reading what it was given.
 */
const NONE = new Uint8Array(0)
const FIRST_CAPACITY = 256

export class UpdateLog {
  private bytes: Uint8Array = NONE
  /** Where each update ends in `bytes`. */
  private ends: number[] = []

  get length (): number { return this.ends.length }

  /** Appends a copy of `update`; returns that copy. */
  push (update: Uint8Array): Uint8Array {
    const start = this.ends.length === 0 ? 0 : this.ends[this.ends.length - 1]!
    const end = start + update.byteLength
    if (end > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(end, this.bytes.byteLength * 2, FIRST_CAPACITY))
      grown.set(this.bytes.subarray(0, start))
      this.bytes = grown
    }
    this.bytes.set(update, start)
    this.ends.push(end)
    return this.bytes.subarray(start, end)
  }

  /** Update `i`, as a view of the log's buffer. */
  at (i: number): Uint8Array { return this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!) }

  /** Every update, as views (for a merge). */
  all (): Uint8Array[] { return this.ends.map((_, i) => this.at(i)) }

  /** Drops the first `n` updates (a compaction merged them); the rest move to a new buffer. */
  dropFirst (n: number): void {
    if (n <= 0) return
    if (n >= this.ends.length) { this.clear(); return }
    const from = this.ends[n - 1]!
    const to = this.ends[this.ends.length - 1]!
    const kept = new Uint8Array(Math.max(to - from, FIRST_CAPACITY))
    kept.set(this.bytes.subarray(from, to))
    this.bytes = kept
    this.ends = this.ends.slice(n).map(end => end - from)
  }

  clear (): void {
    this.bytes = NONE
    this.ends = []
  }
}
