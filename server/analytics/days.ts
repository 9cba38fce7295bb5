/** Analytics count by UTC day: a day is the number of whole days since the epoch. */
export const DAY_MS = 86_400_000

export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS)

/** `2026-12-07` for a day number. */
export const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)

/** A day from `YYYY-MM-DD`; undefined when it is not one. */
export const parseIsoDay = (s: string): number | undefined => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined
  const ms = Date.parse(`${s}T00:00:00Z`)
  return Number.isNaN(ms) || isoDay(dayOf(ms)) !== s ? undefined : dayOf(ms)
}
