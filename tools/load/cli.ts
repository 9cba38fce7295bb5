import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import type { FleetOptions } from './fleet.js'
import type { ScenarioName } from './scenarios.js'
import { formatReport } from './report.js'
import { runLoad } from './run.js'
import { findListeningPid } from './proc.js'
import { WORKER_ENV, runInProcesses, runWorker } from './processes.js'

const HELP = `Usage: npm run loadtest -- --target http://127.0.0.1:4321 --scenario steady [options]

  --target URL          deployment to test (http://host:port); only this address is contacted
  --urls A,B,C          cluster nodes (http://host:port each): device k syncs through node k mod N and
                        fails over to the next nodes when its node goes away; logins and refreshes go
                        to --target (default: the first of --urls). Server CPU: pass --server-pid
  --scenario NAME       steady | idle | storm | churn | coldload
  --users U             simulated users (default 10)
  --devices D           devices per user (default 4)
  --rate R              edits/s per device for steady and churn (default 1)
  --tick-ms T           steady, churn: ms between rounds of the edit loop (default 5); each round
                        sends the edits due since the last, so smaller ticks arrive less bunched
  --seconds S           measured phase length (default 10)
  --offline-edits K     storm: edits each device makes while offline (default 5)
  --history H           coldload: updates written before a fresh device opens the doc (default 10000)
  --unload-wait S       coldload: seconds to wait before the fresh device connects (default 0;
                        pass more than the server's --unload-grace-ms to measure a load from storage)
  --mode light|full     light devices scan frames; full devices apply every update (default light)
  --auth api|none       log devices in through the HTTP API (default api), or none for --insecure-no-auth servers;
                        api registers every user from this machine: start the server with
                        --registrations-per-ip above --users
  --server-pid PID      local server process: report its CPU time and peak RSS (default: found by
                        the target's port when the target is on this machine's loopback)
  --login-concurrency N parallel logins (default 8)
  --connect-batch N     parallel socket connects (default 200)
  --processes N         split the users over N generator processes (default 1; not coldload): one
                        process saturates near 15,000 edits/s on a 2-core machine
  --max-seconds S       hard deadline for the whole run (default 300)
  --json                print the report as JSON
  --drop-edits N        self-check: N devices (per generator process) each record one edit they never
                        send; the run must report N lost edits and exit 1 (default 0)
Exits 1 when any edit is lost, any device diverges, the server state of any user cannot be read back,
or (churn) any device ends signed out.`

/** A target on loopback is a server on this machine: find its pid by the port it listens on. */
const localServerPid = (target: string): number | null => {
  const url = new URL(target)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return null
  return findListeningPid(Number(url.port || (url.protocol === 'https:' ? 443 : 80)))
}

const main = async () => {
  const { values: v } = parseArgs({
    options: {
      target: { type: 'string' }, scenario: { type: 'string', default: 'steady' }, users: { type: 'string', default: '10' },
      devices: { type: 'string', default: '4' }, rate: { type: 'string', default: '1' }, seconds: { type: 'string', default: '10' }, 'tick-ms': { type: 'string', default: '5' },
      'offline-edits': { type: 'string', default: '5' }, history: { type: 'string', default: '10000' }, 'unload-wait': { type: 'string', default: '0' }, mode: { type: 'string', default: 'light' },
      auth: { type: 'string', default: 'api' }, 'server-pid': { type: 'string' }, 'login-concurrency': { type: 'string', default: '8' },
      'connect-batch': { type: 'string', default: '200' }, 'max-seconds': { type: 'string', default: '300' }, json: { type: 'boolean', default: false },
      processes: { type: 'string', default: '1' }, urls: { type: 'string' },
      'drop-edits': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false }
    }
  })
  const urls = v.urls ? v.urls.split(',').map(u => u.trim().replace(/\/$/, '')).filter(Boolean) : undefined
  if (urls?.some(u => !/^https?:\/\/[^/]+$/.test(u))) throw new Error('--urls takes http(s)://host:port origins, comma-separated')
  v.target ??= urls?.[0]
  if (v.help || !v.target) { console.log(HELP); process.exit(v.help ? 0 : 2) }
  const scenario = v.scenario as ScenarioName
  if (!['steady', 'idle', 'storm', 'churn', 'coldload'].includes(scenario)) throw new Error(`unknown scenario ${scenario}`)
  const num = (s: string | undefined) => { const n = Number(s); if (!Number.isFinite(n) || n < 0) throw new Error(`bad number ${s}`); return n }
  const deadline = Date.now() + num(v['max-seconds']) * 1000
  const progress = (line: string) => { if (!v.json) process.stderr.write(`\r[${scenario}] ${line}`.padEnd(110)) }
  const fleetOpts: FleetOptions = {
    target: v.target.replace(/\/$/, ''), urls, users: num(v.users), devicesPerUser: Math.max(scenario === 'coldload' ? 2 : 1, num(v.devices)),
    mode: v.mode === 'full' ? 'full' : 'light', auth: v.auth === 'none' ? 'none' : 'api', runId: randomBytes(4).toString('hex'),
    loginConcurrency: num(v['login-concurrency'])
  }
  // Several nodes are several processes: found by port only for a single target.
  const serverPid = v['server-pid'] ? num(v['server-pid']) : urls ? null : localServerPid(fleetOpts.target)
  if (serverPid && !v['server-pid'] && !v.json) process.stderr.write(`[${scenario}] local server: pid ${serverPid} (found by port)\n`)
  const processes = Math.max(1, Math.floor(num(v.processes)))
  if (processes > 1 && scenario === 'coldload') throw new Error('coldload measures one fresh device: it runs in one process')
  const loadOptions = {
    scenario, fleet: fleetOpts, serverPid,
    scenarioOptions: {
      seconds: num(v.seconds), rate: num(v.rate), tickMs: num(v['tick-ms']), offlineEdits: num(v['offline-edits']), history: num(v.history), unloadWaitSeconds: num(v['unload-wait']),
      connectBatch: num(v['connect-batch']), deadline, onProgress: progress, dropEdits: num(v['drop-edits'])
    }
  }
  const report = processes > 1 ? await runInProcesses(processes, loadOptions, process.argv[1]!) : await runLoad(loadOptions)
  if (!v.json) process.stderr.write('\n')
  console.log(v.json ? JSON.stringify(report, null, 2) : formatReport(report))
  const c = report.convergence
  const failed = c.lostEdits > 0 || c.unreadableUsers > 0 || c.divergedDevices > 0 || (scenario === 'churn' && report.signedOut > 0)
  process.exit(failed ? 1 : 0)
}

if (process.env[WORKER_ENV] === '1') runWorker()
else main().catch((err: Error) => { console.error(`loadtest: ${err.message}`); process.exit(2) })
