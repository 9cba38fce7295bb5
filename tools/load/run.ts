import { RunStats } from './run-stats.js'
import { createFleet, allDevices, closeFleet, type FleetOptions } from './fleet.js'
import { runScenario, type ScenarioName, type ScenarioOptions } from './scenarios.js'
import { sampleProcess, serverUsageSince } from './proc.js'
import type { LoadReport } from './report.js'

export interface LoadOptions {
  scenario: ScenarioName
  fleet: FleetOptions
  scenarioOptions: ScenarioOptions
  /** A local server's pid, to report its CPU time and peak RSS. */
  serverPid: number | null
}

/** One load run from fleet creation to the convergence check; every device is closed at the end. */
export const runLoad = async (opts: LoadOptions): Promise<LoadReport> => (await runLoadWithStats(opts)).report

/** As runLoad, with the run's counters (a `--processes` worker sends its latency samples on). */
export const runLoadWithStats = async ({ scenario, fleet: fleetOpts, scenarioOptions, serverPid: pid }: LoadOptions): Promise<{ report: LoadReport, stats: RunStats }> => {
  const stats = new RunStats()
  const cpuBefore = pid ? sampleProcess(pid) : null
  const genBefore = process.cpuUsage()
  const loginStart = Date.now()
  const users = await createFleet({ ...fleetOpts, renewInBand: fleetOpts.renewInBand ?? scenario !== 'churn' }, stats)
  const loginSeconds = (Date.now() - loginStart) / 1000
  const result = await runScenario(scenario, users, scenarioOptions, stats)
  const server = serverUsageSince(pid, cpuBefore)
  const gen = process.cpuUsage(genBefore)
  const devices = allDevices(users)
  const report: LoadReport = {
    scenario, target: fleetOpts.urls?.length ? fleetOpts.urls.join(',') : fleetOpts.target, users: fleetOpts.users, devices: devices.length, mode: fleetOpts.mode, loginSeconds,
    measuredSeconds: result.measuredSeconds, editsSent: stats.editsSent, delivered: stats.delivered,
    deliveredPerSecond: result.measuredSeconds > 0 ? stats.delivered / result.measuredSeconds : 0,
    latencyMs: stats.latency.summary(), logins: stats.logins, reconnects: stats.reconnects, refreshes: stats.refreshes,
    syncStep2: { count: stats.syncStep2, bytes: stats.syncStep2Bytes },
    errors: stats.errors.toJSON(), closes: stats.closes.toJSON(), signedOut: devices.filter(d => d.signedOut).length,
    extra: result.extra, convergence: result.convergence,
    server,
    generatorCpuSeconds: (gen.user + gen.system) / 1e6
  }
  closeFleet(users)
  return { report, stats }
}
