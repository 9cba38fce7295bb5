/**
 * Every simulated edit carries a marker `@@<editId>@<sentAtMs>|` in its content, where editId is
 * `<user>.<device>.<seq>`. Receivers find markers by scanning raw frame bytes (no Yjs decode), which
 * keeps a simulated device cheap enough to run thousands per process. Yjs stores strings as UTF-8,
 * so the marker's ASCII bytes appear verbatim in every update that carries the edit.
 */
export interface Marker { editId: string, sentAt: number }

const AT = 0x40 // '@'
const BAR = 0x7c // '|'

export const makeMarker = (editId: string, sentAt: number) => `@@${editId}@${sentAt.toFixed(3)}|`

/** A wall clock comparable across processes on one machine, with sub-millisecond resolution. */
export const now = () => performance.timeOrigin + performance.now()

export const scanMarkers = (bytes: Uint8Array, onMarker: (m: Marker) => void): number => {
  let found = 0
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let i = buf.indexOf('@@')
  while (i !== -1) {
    const idStart = i + 2
    const sep = buf.indexOf(AT, idStart)
    const end = sep === -1 ? -1 : buf.indexOf(BAR, sep)
    if (end === -1) break
    if (sep > idStart && sep - idStart <= 64 && end - sep <= 32) {
      const editId = buf.toString('latin1', idStart, sep)
      const sentAt = Number(buf.toString('latin1', sep + 1, end))
      if (Number.isFinite(sentAt)) {
        onMarker({ editId, sentAt })
        found++
        i = buf.indexOf('@@', end)
        continue
      }
    }
    // Not a marker here. The byte before a marker can itself be '@' (0x40: a marker of 64 characters
    // has that length prefix), so look again one byte on instead of skipping past this candidate.
    i = buf.indexOf('@@', i + 1)
  }
  return found
}
