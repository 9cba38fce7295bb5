/** Order of two Redis stream ids (`ms-seq`); '' (no position) sorts first. */
export const compareStreamIds = (a: string, b: string): number => {
  if (a === b) return 0
  if (a === '') return -1
  if (b === '') return 1
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am !== bm ? am - bm : as - bs
}
