import type { LoadReport } from './report.js'
import { Samples } from './stats.js'

/** One `--processes` worker's result: its report and its raw latency samples (percentiles do not add up). */
export interface WorkerResult { report: LoadReport, samples: number[] }

const sumTallies = (all: Array<Record<string, number>>) => {
  const out: Record<string, number> = {}
  for (const t of all) for (const [k, v] of Object.entries(t)) out[k] = (out[k] ?? 0) + v
  return out
}

/**
 * One report for a run split over processes, each driving its own users. Counts add up; latency
 * percentiles are taken over every sample; times (login, measured phase, storm convergence) are the
 * slowest process's; the server's CPU and RSS are measured by the parent (`server`), as is part of
 * the generator CPU (`parentCpuSeconds`).
 */
export const mergeReports = (parts: WorkerResult[], server: LoadReport['server'], parentCpuSeconds: number): LoadReport => {
  if (parts.length === 0) throw new Error('no worker results to merge')
  const reports = parts.map(p => p.report)
  const sum = (f: (r: LoadReport) => number) => reports.reduce((a, r) => a + f(r), 0)
  const max = (f: (r: LoadReport) => number) => Math.max(...reports.map(f))
  const latency = new Samples()
  for (const p of parts) latency.merge(p.samples)
  const extra: Record<string, number> = {}
  for (const r of reports) for (const [k, v] of Object.entries(r.extra)) extra[k] = Math.max(extra[k] ?? -Infinity, v)
  const first = reports[0]!
  return {
    scenario: first.scenario, target: first.target, mode: first.mode,
    users: sum(r => r.users), devices: sum(r => r.devices),
    loginSeconds: max(r => r.loginSeconds), measuredSeconds: max(r => r.measuredSeconds),
    editsSent: sum(r => r.editsSent), delivered: sum(r => r.delivered),
    // Each process delivered its own over (about) the same window: rates add up.
    deliveredPerSecond: sum(r => r.deliveredPerSecond),
    latencyMs: latency.summary(),
    logins: sum(r => r.logins), reconnects: sum(r => r.reconnects), refreshes: sum(r => r.refreshes),
    syncStep2: { count: sum(r => r.syncStep2.count), bytes: sum(r => r.syncStep2.bytes) },
    errors: sumTallies(reports.map(r => r.errors)), closes: sumTallies(reports.map(r => r.closes)),
    signedOut: sum(r => r.signedOut), extra,
    convergence: {
      users: sum(r => r.convergence.users), devices: sum(r => r.convergence.devices), editsMade: sum(r => r.convergence.editsMade),
      lostEdits: sum(r => r.convergence.lostEdits), unreadableUsers: sum(r => r.convergence.unreadableUsers),
      divergedDevices: sum(r => r.convergence.divergedDevices),
      examples: reports.flatMap(r => r.convergence.examples).slice(0, 5)
    },
    server,
    generatorCpuSeconds: sum(r => r.generatorCpuSeconds) + parentCpuSeconds
  }
}
