import type { LatencySummary } from './stats.js'
import type { ConvergenceReport } from './convergence.js'

export interface LoadReport {
  scenario: string
  target: string
  users: number
  devices: number
  mode: string
  loginSeconds: number
  measuredSeconds: number
  editsSent: number
  delivered: number
  deliveredPerSecond: number
  latencyMs: LatencySummary
  logins: number
  reconnects: number
  refreshes: number
  /** Sync step 2 messages the devices received (connects and resyncs) and their payload bytes. */
  syncStep2: { count: number, bytes: number }
  errors: Record<string, number>
  closes: Record<string, number>
  signedOut: number
  extra: Record<string, number>
  convergence: ConvergenceReport
  /** A local server's use over the run; `main`: its event loop's thread ran / waited for a CPU (ms). */
  server: { cpuSeconds: number, peakRssMb: number, rssMb: number, main: { runMs: number, waitMs: number } | null } | null
  generatorCpuSeconds: number
}

const f = (n: number, d = 1) => n.toFixed(d)

export const formatReport = (r: LoadReport): string => {
  const rows: [string, string][] = [
    ['scenario', `${r.scenario} against ${r.target} (${r.users} users × ${r.devices / Math.max(1, r.users)} devices, ${r.mode})`],
    ['logins', `${r.logins} in ${f(r.loginSeconds)} s`],
    ['measured phase', `${f(r.measuredSeconds)} s`],
    ['edits sent', String(r.editsSent)],
    ['delivered updates', `${r.delivered} (${f(r.deliveredPerSecond, 0)}/s)`],
    ['edit→other device latency', `p50 ${f(r.latencyMs.p50)} ms · p95 ${f(r.latencyMs.p95)} ms · p99 ${f(r.latencyMs.p99)} ms · max ${f(r.latencyMs.max)} ms (${r.latencyMs.count} samples)`],
    ['reconnects / refreshes', `${r.reconnects} / ${r.refreshes}`],
    ['sync step 2 received', `${r.syncStep2.count} (${f(r.syncStep2.bytes / 1024)} KB, ${f(r.syncStep2.bytes / Math.max(1, r.syncStep2.count), 0)} B each)`],
    ['close codes', JSON.stringify(r.closes)],
    ['errors', JSON.stringify(r.errors)],
    ['devices signed out', String(r.signedOut)],
    ...Object.entries(r.extra).map(([k, v]) => [k, f(v, 2)] as [string, string]),
    ['server CPU / peak RSS', r.server ? `${f(r.server.cpuSeconds, 2)} s / ${f(r.server.peakRssMb)} MB` : 'n/a (pass --server-pid for a local server)'],
    ...(r.server?.main ? [['server main thread', `ran ${f(r.server.main.runMs / 1000, 2)} s, waited for a CPU ${f(r.server.main.waitMs / 1000, 2)} s (latency this machine added)`] as [string, string]] : []),
    ['generator CPU', `${f(r.generatorCpuSeconds, 2)} s`],
    ['convergence', `${r.convergence.editsMade} edits made, LOST ${r.convergence.lostEdits}, diverged devices ${r.convergence.divergedDevices}/${r.convergence.devices}` +
      (r.convergence.unreadableUsers ? `, server state UNREADABLE for ${r.convergence.unreadableUsers}/${r.convergence.users} users` : '')]
  ]
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + (r.convergence.examples.length ? `\n  ${r.convergence.examples.join('\n  ')}` : '')
}
