/**
 * What a sweep's rows add up to: each target's saturation rate, and ours against every peer. Pure
 * functions over the step results, so the rules are unit-tested (tools/bench/test/saturation.test.ts).
 */

/** The part of a step's result these rules read (run.ts's Row has it all). */
export interface StepResult {
  target: string
  label: string
  offered: number
  ok: boolean
  /** Why a step failed, or that the generator (not the server) limited it. */
  flags: string[]
  p99: number
  lost: number
  editsSent: number
  serverCpuSeconds: number
  /** p99 of every run of this step (`--repeat`). */
  p99Runs: number[]
}

export interface Saturation { target: string, label: string, saturationRate: number | null, lowestTested: number, highestTested: number, note: string, serverCheck: string }

/** What a step is judged on, and the limits it must stay within (run.ts's `--p99-ms`, `--min-delivered`, `--loop-full`). */
export interface StepMeasure { p99: number, deliveredRatio: number, lost: number, loopBusy: number, serverGone: boolean }
export interface StepLimits { p99Ms: number, minDelivered: number, loopFull: number }

/**
 * Why a step failed (empty: it passed). Latency and delivery alone let a server pass whose event loop
 * never idles: overloaded, it reads more frames per turn and batches its way to a low p99 for the few
 * seconds of a step, while its queues and RSS grow. A loop busy for the whole window has no headroom
 * left, so it counts as saturated. A busy share that could not be sampled (NaN) fails nothing.
 */
export const stepFailures = (m: StepMeasure, limits: StepLimits): string[] => {
  const flags: string[] = []
  if (m.p99 >= limits.p99Ms) flags.push(`p99>=${limits.p99Ms}`)
  if (m.deliveredRatio < limits.minDelivered) flags.push(`delivered ${(m.deliveredRatio * 100).toFixed(0)}%`)
  if (m.loopBusy >= limits.loopFull) flags.push(`loop full ${(m.loopBusy * 100).toFixed(0)}%`)
  if (m.lost > 0) flags.push('lost')
  if (m.serverGone) flags.push('server gone')
  return flags
}

/**
 * How a saturation ratio is bounded: `>` the peer failed the lowest rate it ran (its saturation is
 * below that); `>=` ours, `<=` the peer, `~` both passed the highest rate they ran (a lower bound only).
 */
export type RatioBound = '=' | '>' | '>=' | '<=' | '~'

export interface Ratio {
  ours: string
  peer: string
  saturationRatio: number | null
  saturationBound: RatioBound
  /** The highest rate both passed, where CPU per edit and p99 are compared. */
  commonRate: number | null
  /** Where CPU per edit was compared: `commonRate`, or the lowest rate both ran when the peer passed none. */
  cpuRate: number | null
  cpuPerKiloEditRatio: number | null
  p99Ratio: number | null
}

/**
 * p99 on a shared machine moves a lot between identical runs: with `--repeat N` a step runs N times and
 * the run with the median p99 stands for it, so one lucky or unlucky run does not decide a saturation.
 * An edit lost in any run, or most runs failed, fails the step.
 */
export const medianRun = <R extends StepResult>(runs: R[], repeat: number): R => {
  const median = [...runs].sort((a, b) => a.p99 - b.p99)[Math.floor(runs.length / 2)]!
  const row: R = { ...median, flags: [...median.flags], p99Runs: runs.map(r => r.p99) }
  if (runs.some(r => r.lost > 0) && median.lost === 0) { row.ok = false; row.flags.push('lost in another run') }
  if (row.ok && failedMost(runs, repeat)) { row.ok = false; row.flags.push('failed in most runs') }
  return row
}

/** Most of the `repeat` runs a step gets have failed (so its remaining runs can be skipped). */
export const failedMost = (runs: StepResult[], repeat: number): boolean => runs.filter(r => !r.ok).length > repeat / 2

/** A target's saturation is the highest offered rate whose step passed; a failure below it is flagged as possible noise. */
export const saturationOf = (rows: StepResult[], targets: string[], serverChecks: ReadonlyMap<string, string>): Saturation[] =>
  targets.filter(t => rows.some(r => r.target === t)).map(t => {
    const mine = rows.filter(r => r.target === t)
    const passed = mine.filter(r => r.ok)
    const sat = passed.length ? Math.max(...passed.map(r => r.offered)) : null
    const highest = Math.max(...mine.map(r => r.offered))
    const genLimited = mine.some(r => r.flags.some(fl => fl.startsWith('GEN-LIMITED') || fl.startsWith('gen CPU')))
    const below = mine.filter(r => !r.ok && sat !== null && r.offered < sat)
    const above = mine.filter(r => !r.ok && (sat === null || r.offered > sat)).sort((a, b) => a.offered - b.offered)[0]
    let note = sat === highest ? `not saturated up to ${highest}/s (lower bound)` : `fails from ${above?.offered ?? '?'}/s: ${above?.flags.join(', ') ?? ''}`
    if (below.length) note += `; NOISE? also failed below it at ${below.map(r => `${r.offered}/s (${r.flags.join(', ')})`).join(', ')}`
    return {
      target: t, label: mine[0]!.label, saturationRate: sat, lowestTested: Math.min(...mine.map(r => r.offered)), highestTested: highest,
      note: note + (genLimited ? ' [generator-limited steps: see gen CPU%]' : ''), serverCheck: serverChecks.get(t) ?? 'not run'
    }
  })

/** Ours against one peer: saturation (with its bound), and server CPU per edit and p99 where both ran. */
export const ratioOf = (ours: Saturation, peer: Saturation, rows: StepResult[]): Ratio => {
  const row = (t: string, rate: number | null) => rows.find(r => r.target === t && r.offered === rate)
  const bothRan = rows.filter(r => r.target === ours.target && row(peer.target, r.offered) !== undefined)
  const bothPassed = bothRan.filter(r => r.ok && row(peer.target, r.offered)!.ok).map(r => r.offered)
  const at = bothPassed.length ? Math.max(...bothPassed) : null
  // A peer that failed every step still did the work of the lowest one: compare CPU per edit there.
  const cpuAt = at ?? (bothRan.length ? Math.min(...bothRan.map(r => r.offered)) : null)
  const cpuPerK = (t: string) => { const r = row(t, cpuAt)!; return r.serverCpuSeconds / r.editsSent * 1000 }
  const oursOpen = ours.saturationRate === ours.highestTested
  const peerOpen = peer.saturationRate === peer.highestTested
  const saturationRatio = ours.saturationRate === null ? null
    : peer.saturationRate === null ? ours.saturationRate / peer.lowestTested
      : ours.saturationRate / peer.saturationRate
  const saturationBound: RatioBound = peer.saturationRate === null ? '>' : oursOpen && peerOpen ? '~' : oursOpen ? '>=' : peerOpen ? '<=' : '='
  return {
    ours: ours.label, peer: peer.label, saturationRatio, saturationBound, commonRate: at, cpuRate: cpuAt,
    cpuPerKiloEditRatio: cpuAt === null ? null : cpuPerK(ours.target) / cpuPerK(peer.target),
    p99Ratio: at === null ? null : row(ours.target, at)!.p99 / Math.max(0.001, row(peer.target, at)!.p99)
  }
}

/** `> 2.00x`, `1.50x`, `n/a`: a ratio as the table prints it. */
export const formatSaturationRatio = (r: Ratio): string =>
  r.saturationRatio === null ? 'n/a' : `${r.saturationBound === '=' ? '' : r.saturationBound + ' '}${r.saturationRatio.toFixed(2)}x`
