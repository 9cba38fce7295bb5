/**
 * How many bytes of big documents may be kept as live Y.Docs, for the whole process (room.ts).
 *
 * Why a budget: a live Y.Doc holds several times its encoded size in JS heap, where the room otherwise
 * holds the encoded bytes only. Charged by encoded size, granted first come, first served, and given
 * back when a room drops its Y.Doc (cold, unloaded, purged, or grown past what is left).
 */
export class LiveDocBudget {
  private used = 0
  constructor (private readonly limitBytes: number, private readonly onChange: (usedBytes: number) => void = () => {}) {}

  take (bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false
    this.used += bytes
    this.onChange(this.used)
    return true
  }

  give (bytes: number): void {
    if (bytes === 0) return
    this.used -= bytes
    this.onChange(this.used)
  }
}
