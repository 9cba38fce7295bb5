/** Plain-text tables for the bench's report. */

export const f0 = (n: number) => Number.isFinite(n) ? n.toFixed(0) : 'n/a'
export const f1 = (n: number) => Number.isFinite(n) ? n.toFixed(1) : 'n/a'

export const table = (header: string[], rows: string[][]) => {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  // Text columns (first, and any whose header starts with 'note'/'server') left, numbers right.
  const left = (i: number) => i === 0 || /^(note|server)/.test(header[i]!)
  const line = (cells: string[]) => cells.map((c, i) => left(i) ? c.padEnd(w[i]!) : c.padStart(w[i]!)).join('  ').trimEnd()
  return [line(header), w.map(n => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n')
}
