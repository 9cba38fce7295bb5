/**
 * The updates a room accepted since its last merge, copied into one growing buffer instead of kept as
 * one Uint8Array each. Why: a big document's log holds thousands of updates of ~60 bytes until its next
 * compaction, and as separate Uint8Arrays each was two heap objects and a backing store that every full
 * GC visits and sweeps: 250 documents under load held over half a million of them, and GC took up to
 * 1.3 s of a 9-s step (README, Performance).
 *
 * `push` returns the copy as a view of the buffer, which the store keeps until its batch is written. A
 * buffer is never written twice at the same place: growing copies into a new one, and `clear` drops it,
 * so a view handed out keeps reading what it was given.
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

  clear (): void {
    this.bytes = NONE
    this.ends = []
  }
}
