/**
 * Side-by-side benchmark: the same `steady` workload against our server, @y/websocket-server,
 * @hocuspocus/server and a raw ws relay, each in its own child process, at several ingress rates;
 * plus an `idle` mode comparing the memory of many connected idle devices. `npm run bench -- --help`.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { sampleMainThread, sampleProcess, serverUsageSince, type ProcSample } from '../load/proc.js'
import { histPercentile, mergeHists } from './hist.js'
import { busyShare, expandCpuList, readCpuTimes } from './cpu-stat.js'
import { affinityOf, checkCpuList } from './pin.js'
import { next, spawnGenerators, stopGenerators, tell, type Gen } from './generators.js'
import { f0, f1, table } from './table.js'
import { failedMost, formatSaturationRatio, medianRun, ratioOf, saturationOf, stepFailures, type StepResult } from './saturation.js'
import { loopStatsBetween, scrapeLoop, type LoopStats } from './server-loop.js'
import type { GenReady, GenSetup, GenStepResult } from './ipc.js'
import { TARGETS, compileTargets, killAllChildren, startTarget, type Target, type TargetName } from './targets.js'

const HELP = `Usage: npm run bench -- [options]

  --mode steady|idle      steady: rate sweep (default); idle: memory of idle connected devices
  --targets LIST          comma list of ${TARGETS.join(', ')}
                          (default: all but ours-lean for steady; ours,ours-lean,relay for idle)
  --rates LIST            offered edits/s per step (default 2500,5000,7500,10000,12500,15000,20000,25000,30000:
                          steps of 2.5k/s where the servers saturate on a 2-core machine, so a 2x
                          ratio is told from 1.5x; up to where the raw relay saturates)
  --docs N                documents (users) (default 250)
  --devices D             devices per document (default 4); each edit is expected on D-1 devices
  --seconds S             edit phase per rate step (default 8)
  --drain S               longest wait for outstanding deliveries after a step (default 5)
  --warmup S              unreported warm-up step at the first rate per target (default 3; 0 = none)
  --generators G          load-generator processes (default 2); documents are split between them
  --idle-devices N        idle mode: connected devices (default 5000)
  --idle-seconds S        idle mode: seconds to hold them before sampling RSS (default 10)
  --settle-seconds S      idle mode: keep holding until S s after connect and sample again (default 60;
                          0 = no second sample): V8 gives back its young generation ~30 s after the
                          last burst of allocation, so this is the footprint an idle server settles at
  --p99-ms MS             saturation: a step passes when p99 < MS (default 250) ...
  --min-delivered F       ... and delivered-in-window >= F x expected (default 0.95) and no lost edits
  --loop-full F           ... and the server's event loop was busy (its main thread running or ready to
                          run, /proc schedstat) for < F of the edit window (default 0.95; 2 = off):
                          a loop that never idles is saturated even while batching keeps its p99 low
  --repeat N              run each rate step N times (default 1); the run with the median p99 is the
                          step's row (the upper one for even N), the p99 column shows min-max too, and
                          an edit lost in any run fails the step
  --interleave            connect every target first, then run each rate step (and each repeat) on
                          all of them back to back, order rotated per repeat: ratios come from runs
                          minutes apart at most, not a whole sweep apart (default: one target at a time)
  --all-rates             keep stepping a target after 2 consecutive failed steps (default: stop it)
  --login-per-device      auth: one login per device (realistic, slow: one password hash each);
                          default one login per user shared by its devices
  --login-concurrency N   parallel logins per generator (default 8)
  --connect-batch N       parallel connects per generator (default 200)
  --ours-args="ARGS"      extra server flags (npm start -- --help) for ours / ours-noauth, space separated
  --ours-node-flags="F"   extra Node/V8 flags for every ours target (e.g. --max-semi-space-size=32)
                          (write it with '=' since the value starts with '--')
  --gen-node-flags="F"    extra Node flags for the generator processes (e.g. --cpu-prof)
  --server-cpus LIST      run every server on these CPUs only (taskset -c LIST, e.g. 0) ...
  --gen-cpus LIST         ... and the generators on these (e.g. 1): on 2 cores each server gets one
                          core of its own, helper threads included, so "saturates one core" is
                          measured as stated; the header shows the masks (default: all)
  --max-seconds S         hard deadline for the whole benchmark (default 3600)
  --json                  print one JSON document on stdout (progress still on stderr)`

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
const log = (line: string) => process.stderr.write(line + '\n')

// ---------------------------------------------------------------------------------------------
// Options

const { values: v } = parseArgs({
  options: {
    mode: { type: 'string', default: 'steady' }, targets: { type: 'string' }, rates: { type: 'string', default: '2500,5000,7500,10000,12500,15000,20000,25000,30000' },
    docs: { type: 'string', default: '250' }, devices: { type: 'string', default: '4' }, seconds: { type: 'string', default: '8' },
    drain: { type: 'string', default: '5' }, warmup: { type: 'string', default: '3' }, generators: { type: 'string', default: '2' }, 'idle-devices': { type: 'string', default: '5000' },
    'idle-seconds': { type: 'string', default: '10' }, 'settle-seconds': { type: 'string', default: '60' }, 'p99-ms': { type: 'string', default: '250' }, 'min-delivered': { type: 'string', default: '0.95' }, 'loop-full': { type: 'string', default: '0.95' }, repeat: { type: 'string', default: '1' },
    'all-rates': { type: 'boolean', default: false }, interleave: { type: 'boolean', default: false }, 'login-per-device': { type: 'boolean', default: false },
    'login-concurrency': { type: 'string', default: '8' }, 'connect-batch': { type: 'string', default: '200' },
    'ours-args': { type: 'string', default: '' }, 'ours-node-flags': { type: 'string', default: '' }, 'gen-node-flags': { type: 'string', default: '' }, 'server-cpus': { type: 'string' }, 'gen-cpus': { type: 'string' }, 'max-seconds': { type: 'string', default: '3600' },
    json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false }
  }
})
if (v.help) { console.log(HELP); process.exit(0) }
const num = (s: string | undefined, name: string) => { const n = Number(s); if (!Number.isFinite(n) || n < 0) { console.error(`bad --${name}: ${s}`); process.exit(2) } return n }
const mode = v.mode === 'idle' ? 'idle' : v.mode === 'steady' ? 'steady' : (() => { console.error(`bad --mode ${v.mode}`); process.exit(2) })()
const targets = (v.targets ?? (mode === 'idle' ? 'ours,ours-lean,relay' : TARGETS.filter(t => t !== 'ours-lean').join(','))).split(',').map(s => s.trim()).filter(Boolean) as TargetName[]
for (const t of targets) if (!TARGETS.includes(t)) { console.error(`unknown target ${t}; known: ${TARGETS.join(', ')}`); process.exit(2) }
const cpuList = (list: string | undefined, flag: string) => {
  if (list === undefined) return undefined
  try { return checkCpuList(list, flag) } catch (err) { console.error((err as Error).message); process.exit(2) }
}
const rates = v.rates.split(',').map(s => num(s, 'rates')).filter(r => r > 0)
const devicesPerDoc = Math.max(2, num(v.devices, 'devices'))
const opts = {
  docs: Math.max(1, num(v.docs, 'docs')), devicesPerDoc, seconds: num(v.seconds, 'seconds'), drain: num(v.drain, 'drain'), warmup: num(v.warmup, 'warmup'),
  generators: Math.max(1, num(v.generators, 'generators')), idleDevices: num(v['idle-devices'], 'idle-devices'), idleSeconds: num(v['idle-seconds'], 'idle-seconds'), settleSeconds: num(v['settle-seconds'], 'settle-seconds'),
  p99Ms: num(v['p99-ms'], 'p99-ms'), minDelivered: num(v['min-delivered'], 'min-delivered'), loopFull: num(v['loop-full'], 'loop-full'), allRates: v['all-rates'], interleave: v.interleave, repeat: Math.max(1, Math.floor(num(v.repeat, 'repeat'))), loginPerDevice: v['login-per-device'],
  loginConcurrency: Math.max(1, num(v['login-concurrency'], 'login-concurrency')), connectBatch: Math.max(1, num(v['connect-batch'], 'connect-batch')),
  oursArgs: v['ours-args'].split(' ').filter(Boolean), oursNodeFlags: v['ours-node-flags'].split(' ').filter(Boolean), genNodeFlags: v['gen-node-flags'].split(' ').filter(Boolean),
  serverCpus: cpuList(v['server-cpus'], '--server-cpus'), genCpus: cpuList(v['gen-cpus'], '--gen-cpus')
}
const deadline = Date.now() + num(v['max-seconds'], 'max-seconds') * 1000
/** How every target starts, in steady and idle mode alike. */
const targetOptions = { oursArgs: opts.oursArgs, oursNodeFlags: opts.oursNodeFlags, cpus: opts.serverCpus }

// Children die with us, whatever the way out.
process.on('exit', killAllChildren)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { log(`\n${sig}: stopping children`); killAllChildren(); process.exit(130) })
process.on('uncaughtException', err => { log(`bench: ${err.stack ?? err.message}`); killAllChildren(); process.exit(1) })
setTimeout(() => { log('bench: --max-seconds deadline passed'); killAllChildren(); process.exit(1) }, Math.max(1, deadline - Date.now()) + 15_000).unref()

// ---------------------------------------------------------------------------------------------
// One target: start it, start generators, connect the fleet

interface Fleet { target: Target, gens: Gen[], ready: GenReady[], devices: number }

interface OpenFleet extends Fleet { close (): Promise<void> }

/** Start a target and its generators, log the fleet in and connect it; `close` stops them all. */
const openFleet = async (name: TargetName, docs: number): Promise<OpenFleet> => {
  log(`\n[${name}] starting`)
  const target = await startTarget(name, targetOptions)
  if (target.warning) log(target.warning)
  const gens = spawnGenerators(Math.min(opts.generators, docs), opts.genNodeFlags, opts.genCpus)
  // The masks as the kernel holds them, not as asked: a pinned run says so from the processes themselves.
  if (opts.serverCpus || opts.genCpus) log(`[${name}] server on CPUs ${affinityOf(target.pid)}; generators on CPUs ${gens.map(g => affinityOf(g.proc.pid!)).join(' / ')}`)
  const close = async () => { await stopGenerators(gens); await target.stop() }
  try {
    const runId = randomBytes(4).toString('hex')
    const t0 = Date.now()
    gens.forEach((g, i) => {
      const setup: GenSetup = {
        cmd: 'setup', httpUrl: target.httpUrl, syncUrl: target.syncUrl, framing: target.framing, auth: target.auth, loginPerDevice: opts.loginPerDevice,
        docs: Array.from({ length: docs }, (_, k) => k).filter(k => k % gens.length === i), devicesPerDoc: opts.devicesPerDoc, runId,
        loginConcurrency: opts.loginConcurrency, connectBatch: opts.connectBatch, deadline
      }
      tell(g, setup)
    })
    await Promise.all(gens.map(g => next(g, 'prepared', deadline + 10_000)))
    for (const g of gens) tell(g, { cmd: 'connect' })
    const ready = await Promise.all(gens.map(g => next(g, 'ready', deadline + 10_000)))
    const devices = ready.reduce((a, r) => a + r.devices, 0)
    const synced = ready.reduce((a, r) => a + r.synced, 0)
    const loginSeconds = Math.max(...ready.map(r => r.loginSeconds))
    log(`[${name}] ${synced}/${devices} devices synced in ${((Date.now() - t0) / 1000).toFixed(1)} s${target.auth === 'api' ? ` (logins ${loginSeconds.toFixed(1)} s)` : ''}`)
    return { target, gens, ready, devices, close }
  } catch (err) {
    log(`[${name}] FAILED: ${(err as Error).message}\n--- server log tail ---\n${target.logTail()}`)
    await close()
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// Steady sweep

/** One rate step of one target; `StepResult` (saturation.ts) has the fields the saturation rules read. */
interface Row extends StepResult {
  target: TargetName
  sentPerSecond: number
  deliveredPerSecond: number
  expectedPerSecond: number
  deliveredRatio: number
  p50: number
  max: number
  latencySamples: number
  serverCpuPercent: number
  serverPeakRssMb: number
  /** RSS at the end of the step (peak RSS of ours with auth includes password hashing at login). */
  serverRssMb: number
  generatorCpuPercentMax: number
  generators: number
  reconnects: number
  errors: Record<string, number>
  closes: Record<string, number>
  /** Our server's own event-loop stalls and GC pauses during the step (server-loop.ts); null for other targets. */
  serverLoop: LoopStats | null
  /** The server's main thread during the step: ms it ran, and ms it was ready to run but waited for a CPU. */
  serverMainRunMs: number
  serverMainWaitMs: number
  /** Share of the edit window the server's main thread ran or was ready to run (1 = its loop never idled). */
  loopBusy: number
  /** Busy share of the server's CPUs and of the generators' over the edit window (/proc/stat: softirq included). */
  serverCores: number
  genCores: number
}

/**
 * The edit window alone (the step's run/wait and CPU columns include the start and the drain, when a
 * server that kept up idles), sampled when it opens and when it closes: the share of it the server's
 * main thread ran or was ready to run, and how busy the server's and the generators' CPUs were
 * (cpu-stat.ts; without pinning both are the whole machine).
 */
interface WindowLoad { loopBusy: number, serverCores: number, genCores: number }
const serverCpuList = expandCpuList(opts.serverCpus)
const genCpuList = expandCpuList(opts.genCpus)
/** Generators on CPUs of their own: only then does a full generator core say the generators were the limit. */
const gensApart = opts.genCpus !== undefined && !genCpuList.some(c => serverCpuList.includes(c))
const sampleWindow = (pid: number, startAt: number, seconds: number): Promise<WindowLoad> => new Promise(resolve => {
  setTimeout(() => {
    const a = sampleMainThread(pid)
    const cpuA = readCpuTimes()
    const t0 = performance.now()
    setTimeout(() => {
      const b = sampleMainThread(pid)
      const cpuB = readCpuTimes()
      const ms = performance.now() - t0
      resolve({
        loopBusy: a && b ? (b.runMs - a.runMs + b.waitMs - a.waitMs) / ms : NaN,
        serverCores: busyShare(cpuA, cpuB, serverCpuList), genCores: busyShare(cpuA, cpuB, genCpuList)
      })
    }, seconds * 1000)
  }, Math.max(0, startAt - Date.now()))
})

const cpuOf = (pids: number[]) => pids.reduce((a, pid) => a + (sampleProcess(pid)?.cpuSeconds ?? 0), 0)

/**
 * Interleaved runs keep the other targets alive. A server that just went idle keeps working for a while
 * (V8's memory reducer runs full GCs of a big heap, LevelDB compacts), which would take CPU from the
 * step being measured: wait until they use < 3 % of a core (at most 90 s: a server that fell behind
 * works off its backlog first, which can take tens of seconds).
 */
const quiesce = async (pids: number[]): Promise<number> => {
  const t0 = Date.now()
  while (pids.length > 0 && Date.now() - t0 < 90_000) {
    const c0 = cpuOf(pids)
    await sleep(1000)
    if (cpuOf(pids) - c0 < 0.03) break
  }
  return (Date.now() - t0) / 1000
}

const runStep = async (f: Fleet, offered: number, seconds = opts.seconds, bystanders: number[] = []): Promise<Row> => {
  const perDevice = offered / f.devices
  const waited = await quiesce(bystanders)
  if (waited > 1.5) log(`[${f.target.name}] waited ${waited.toFixed(0)} s for the other targets to go quiet`)
  const othersBefore = cpuOf(bystanders)
  const ours = f.target.name.startsWith('ours')
  const loopBefore = ours ? await scrapeLoop(f.target.httpUrl) : null
  const before = sampleProcess(f.target.pid)
  const wall0 = Date.now()
  const startAt = Date.now() + 300
  for (const g of f.gens) tell(g, { cmd: 'step', perDevice, seconds, drainSeconds: opts.drain, startAt })
  const windowLoad = sampleWindow(f.target.pid, startAt, seconds)
  const results: GenStepResult[] = await Promise.all(f.gens.map(g => next(g, 'step', Date.now() + (seconds + opts.drain) * 1000 + 60_000)))
  const used = serverUsageSince(f.target.pid, before)
  const wall = (Date.now() - wall0) / 1000
  const serverLoop = ours ? loopStatsBetween(loopBefore, await scrapeLoop(f.target.httpUrl)) : null
  const othersCpuPercent = bystanders.length ? (cpuOf(bystanders) - othersBefore) / wall * 100 : 0
  const sum = (k: 'editsSent' | 'expected' | 'deliveredInWindow' | 'delivered' | 'lost' | 'reconnects') => results.reduce((a, r) => a + r[k], 0)
  const window = Math.max(...results.map(r => r.windowSeconds))
  const h = mergeHists(results.map(r => r.latency))
  const merge = (k: 'errors' | 'closes') => {
    const out: Record<string, number> = {}
    for (const r of results) for (const [key, n] of Object.entries(r[k])) out[key] = (out[key] ?? 0) + n
    return out
  }
  const expected = sum('expected')
  const deliveredRatio = expected > 0 ? sum('deliveredInWindow') / expected : 0
  const genMax = Math.max(...results.map(r => r.cpuSeconds / Math.max(0.001, r.windowSeconds + r.drainSeconds)))
  const genWindowMax = Math.max(...results.map(r => r.cpuSeconds / Math.max(0.001, r.windowSeconds)))
  const serverCpu = used?.cpuSeconds ?? NaN
  const p99 = histPercentile(h, 99)
  const sentPerSecond = sum('editsSent') / Math.max(0.001, window)
  const load = await windowLoad
  const flags = stepFailures({ p99, deliveredRatio, lost: sum('lost'), loopBusy: load.loopBusy, serverGone: !used }, opts)
  const ok = flags.length === 0
  if (sentPerSecond < offered * 0.95) flags.push(`GEN-LIMITED (sent ${(sentPerSecond / offered * 100).toFixed(0)}%)`)
  else if (genWindowMax > 0.9) flags.push('gen CPU>90%')
  else if (gensApart && load.genCores >= 0.95) flags.push(`gen CPUs ${(load.genCores * 100).toFixed(0)}% busy`)
  if (othersCpuPercent > 5) flags.push(`other targets used ${othersCpuPercent.toFixed(0)}% CPU`)
  return {
    target: f.target.name, label: f.target.label, offered, sentPerSecond, deliveredPerSecond: sum('deliveredInWindow') / Math.max(0.001, window),
    expectedPerSecond: expected / Math.max(0.001, window), deliveredRatio, p50: histPercentile(h, 50), p99, max: h.max, latencySamples: h.count,
    editsSent: sum('editsSent'), lost: sum('lost'), serverCpuSeconds: serverCpu, serverCpuPercent: serverCpu / wall * 100,
    serverPeakRssMb: used?.peakRssMb ?? before?.peakRssMb ?? NaN, serverRssMb: used?.rssMb ?? NaN, generatorCpuPercentMax: genMax * 100, generators: results.length,
    reconnects: sum('reconnects'), errors: merge('errors'), closes: merge('closes'), ok, flags, p99Runs: [p99], serverLoop,
    serverMainRunMs: used?.main?.runMs ?? NaN, serverMainWaitMs: used?.main?.waitMs ?? NaN, ...load
  }
}

const formatRows = (rows: Row[]) => table(
  ['target', 'offered/s', 'sent/s', 'delivered/s', 'deliv%', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'srv CPU s', 'srv CPU%', 'main run/wait s', 'loop busy%', 'CPUs busy% srv/gen', 'srv stall p99/max', 'srv GC ms (>=10)', 'RSS/peak MB', 'gen CPU%', 'notes'],
  rows.map(r => [r.label, f0(r.offered), f0(r.sentPerSecond), f0(r.deliveredPerSecond), f0(r.deliveredRatio * 100), f1(r.p50), r.p99Runs.length > 1 ? `${f1(r.p99)} (${f1(Math.min(...r.p99Runs))}-${f1(Math.max(...r.p99Runs))})` : f1(r.p99), f1(r.max), String(r.lost),
    f1(r.serverCpuSeconds), f0(r.serverCpuPercent), `${f1(r.serverMainRunMs / 1000)}/${f1(r.serverMainWaitMs / 1000)}`, f0(r.loopBusy * 100), `${f0(r.serverCores * 100)}/${f0(r.genCores * 100)}`,
    r.serverLoop ? `${f0(r.serverLoop.p99StallMs)}/${f0(r.serverLoop.maxStallMs)}` : '-', r.serverLoop ? `${f0(r.serverLoop.gcMs)} (${r.serverLoop.gcSlow})` : '-',
    `${f0(r.serverRssMb)}/${f0(r.serverPeakRssMb)}`, `${r.generators}x${f0(r.generatorCpuPercentMax)}`,
    [r.ok ? 'ok' : 'FAIL', ...r.flags, r.reconnects ? `reconnects ${r.reconnects}` : '', Object.keys(r.errors).length ? `errors ${JSON.stringify(r.errors)}` : ''].filter(Boolean).join(' ')])
)

/** After the sweep: read every document back from a stateful server (not the relay) and count edits it lacks. */
const verifyServer = async (f: Fleet): Promise<string> => {
  if (f.target.name === 'relay') return 'n/a (relay keeps no state)'
  for (const g of f.gens) tell(g, { cmd: 'verify', timeoutSeconds: 20 })
  const rs = await Promise.all(f.gens.map(g => next(g, 'verify', Date.now() + 60_000)))
  const edits = rs.reduce((a, r) => a + r.edits, 0)
  const missing = rs.reduce((a, r) => a + r.missing, 0)
  const unreadable = rs.reduce((a, r) => a + r.docsUnreadable, 0)
  return `${missing === 0 && unreadable === 0 ? 'ok' : 'FAIL'}: server state holds ${edits - missing}/${edits} edits${unreadable ? `, ${unreadable} docs unreadable` : ''}`
}

const runSteady = async () => {
  const rows: Row[] = []
  const serverChecks = new Map<TargetName, string>()
  const notes: string[] = []
  const warnings: string[] = []
  const failures: string[] = []
  const stepTime = (n: number) => (opts.seconds + opts.drain + 2) * 1000 * n
  /**
   * The rate ladder over a set of connected fleets. Sequential mode passes one fleet at a time; with
   * `--interleave` every target is connected at once and each step (and each repeat of it) runs them
   * back to back, order rotated per repeat, so a drift of the shared machine hits all of them alike.
   */
  const sweep = async (fleets: OpenFleet[]) => {
    /** Fleets checked and stopped: retired from the sweep, or at its end. */
    const checked = new Set<OpenFleet>()
    // Every other process of the sweep: their servers and generators must stay out of a step's way.
    const bystandersOf = (f: OpenFleet) => fleets.filter(o => o !== f && !checked.has(o)).flatMap(o => [o.target.pid, ...o.gens.flatMap(g => g.proc.pid ?? [])])
    const active: OpenFleet[] = []
    for (const f of fleets) {
      notes.push(`${f.target.label}: ${f.target.note}`)
      if (f.target.warning) warnings.push(f.target.warning)
      try {
        if (opts.warmup > 0) {
          // JIT, first allocations of every room, connect aftermath: not part of any reported step.
          const w = await runStep(f, rates[0]!, opts.warmup, bystandersOf(f))
          log(`[${f.target.name}] warm-up ${opts.warmup} s at ${rates[0]}/s (not reported): p99 ${f1(w.p99)} ms, delivered ${f0(w.deliveredRatio * 100)}%`)
        }
        active.push(f)
      } catch (err) { failures.push(`${f.target.name}: ${(err as Error).message.split('\n')[0]}`) }
    }
    const check = async (f: OpenFleet) => {
      if (checked.has(f)) return
      checked.add(f)
      try {
        serverChecks.set(f.target.name, await verifyServer(f))
      } catch (err) { serverChecks.set(f.target.name, `FAIL: ${(err as Error).message}`) }
      log(`[${f.target.name}] server check: ${serverChecks.get(f.target.name)}`)
    }
    /**
     * A target leaving the sweep is checked and stopped at once when others go on: a server that failed
     * a step keeps working off its backlog and collecting a big heap for minutes, which would measure
     * the remaining targets on a busy machine.
     */
    const retire = async (f: OpenFleet) => {
      active.splice(active.indexOf(f), 1)
      if (fleets.length === 1) return
      await check(f)
      await f.close()
    }
    // In interleaved runs of ≥ 2 repeats the median already absorbs a noisy run, so one failed step
    // ends a target's sweep; otherwise two in a row do.
    const failsToStop = opts.interleave && opts.repeat > 1 ? 1 : 2
    const failedInARow = new Map<OpenFleet, number>()
    for (const rate of rates) {
      if (active.length === 0) break
      if (Date.now() + stepTime(active.length) > deadline) { failures.push(`${active.map(f => f.target.name).join(', ')}: stopped before ${rate}/s, deadline`); break }
      const runs = new Map<OpenFleet, Row[]>(active.map(f => [f, []]))
      for (let i = 0; i < opts.repeat; i++) {
        if (i > 0 && Date.now() + stepTime(active.length) > deadline) break
        for (let k = 0; k < active.length; k++) {
          const f = active[(k + i) % active.length]!
          if (!runs.has(f)) continue // an earlier run of this step failed outright (server gone): no retries
          // Decided: further runs of a failed step only load the machine the other targets share.
          if (failedMost(runs.get(f)!, opts.repeat)) continue
          try {
            const r = await runStep(f, rate, opts.seconds, bystandersOf(f))
            runs.get(f)!.push(r)
            if (opts.repeat > 1) log(`[${f.target.name}] ${rate}/s run ${i + 1}/${opts.repeat}: p99 ${f1(r.p99)} ms, srv CPU ${r.serverCpuSeconds.toFixed(2)} s, main thread ran/waited ${f1(r.serverMainRunMs / 1000)}/${f1(r.serverMainWaitMs / 1000)} s${r.serverLoop ? `, longest stall ${f0(r.serverLoop.maxStallMs)} ms` : ''} ${r.ok ? 'ok' : 'FAIL ' + r.flags.join(' ')}`)
          } catch (err) {
            failures.push(`${f.target.name}: ${(err as Error).message.split('\n')[0]}`)
            runs.delete(f)
          }
        }
      }
      for (const f of [...active]) {
        const mine = runs.get(f)
        if (!mine?.length) { await retire(f); continue }
        const row = medianRun(mine, opts.repeat)
        rows.push(row)
        log(formatRows([row]).split('\n')[2]!)
        failedInARow.set(f, row.ok ? 0 : (failedInARow.get(f) ?? 0) + 1)
        if (failedInARow.get(f)! >= failsToStop && !opts.allRates) {
          log(`[${f.target.name}] ${failsToStop === 1 ? 'failed its median step' : '2 failed steps in a row'}: skipping higher rates`)
          await retire(f)
        }
      }
    }
    for (const f of fleets) await check(f)
  }
  const open = async (name: TargetName) => {
    if (Date.now() > deadline) { failures.push(`${name}: skipped, deadline passed`); return null }
    try { return await openFleet(name, opts.docs) } catch (err) { failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`); return null }
  }
  if (opts.interleave) {
    const fleets: OpenFleet[] = []
    try {
      for (const name of targets) { const f = await open(name); if (f) fleets.push(f) }
      await sweep(fleets)
    } finally { for (const f of fleets) await f.close() }
  } else {
    for (const name of targets) {
      const f = await open(name)
      if (!f) continue
      try { await sweep([f]) } finally { await f.close() }
    }
  }
  const saturation = saturationOf(rows, targets, serverChecks)
  const ours = saturation.find(s => s.target === 'ours') ?? saturation.find(s => s.target === 'ours-noauth')
  const ratios = ours ? saturation.filter(s => s !== ours).map(s => ratioOf(ours, s, rows)) : []
  const config = { ...opts, rates, targets, totalDevices: opts.docs * opts.devicesPerDoc, cores: (await import('node:os')).cpus().length }
  if (v.json) {
    console.log(JSON.stringify({ mode: 'steady', config, warnings, notes, rows, saturation, ratios, failures }, null, 2))
  } else {
    const out: string[] = []
    out.push(`\n=== steady: ${opts.docs} docs x ${opts.devicesPerDoc} devices = ${opts.docs * opts.devicesPerDoc} devices, ${opts.seconds} s per step (after a ${opts.warmup} s warm-up), drain <= ${opts.drain} s, ${opts.generators} generator process(es) per target, ${config.cores} cores${opts.interleave ? ', targets interleaved per step' : ''}${opts.serverCpus || opts.genCpus ? `, servers on CPUs ${opts.serverCpus ?? 'all'} and generators on CPUs ${opts.genCpus ?? 'all'} (taskset)` : ''} ===`)
    for (const w of warnings) out.push(w)
    out.push(formatRows(rows))
    out.push('\ndelivered/s: edit markers received by the other devices of the doc inside the edit window; deliv% = of editsSent x (D-1).')
    out.push('latency: edit sent -> marker received on another device (all deliveries, incl. the drain). lost: edits some other device still lacked after the drain.')
    out.push('main run/wait s: the server\'s main thread (its event loop) during the step: seconds it ran, and seconds it was ready to run but waited for a CPU (/proc schedstat), i.e. latency the machine added. loop busy%: the same thread over the edit window alone, ran + waited (100 = its event loop never idled: saturated). CPUs busy%: the server\'s CPUs and the generators\' over the edit window, kernel softirq included (/proc/stat; both the whole machine unless --server-cpus/--gen-cpus).')
    out.push('srv stall p99/max: ours only, how long its own event loop stood still (p99 and longest, ms, from its /metrics; a p99 latency far above the longest stall was not made by the server\'s loop). srv GC ms: its GC pauses in all, and how many took >= 10 ms.')
    out.push('srv CPU%: of one core over the step (edit window + drain). RSS/peak: server RSS at the end of the step / peak RSS since start (VmHWM; with auth it includes password hashing at login).')
    out.push('gen CPU%: generators x busiest one, % of one core over the step; GEN-LIMITED = the generators could not offer the rate (the row measures them, not the server).')
    out.push('\ntargets:')
    for (const n of notes) out.push(`  ${n}`)
    out.push(`\n=== saturation: highest offered rate whose step had p99 < ${opts.p99Ms} ms, delivered >= ${opts.minDelivered * 100}% of expected in the window, 0 lost${opts.loopFull <= 1 ? `, server loop busy < ${opts.loopFull * 100}% of the window` : ''} ===`)
    out.push(table(['target', 'saturation edits/s', 'note', 'server state after the sweep'], saturation.map(s => [s.label, s.saturationRate === null ? `< ${s.lowestTested}` : String(s.saturationRate), s.note, s.serverCheck])))
    if (ratios.length) {
      out.push('\nratios (ours / peer): saturation rate (> : the peer failed the lowest rate; >= / <= : one side, ~ : both not saturated at the top rate);')
      out.push('server CPU per 1000 edits and p99 at the highest rate both passed (CPU/edit at the lowest rate both ran when the peer passed none)')
      out.push(table(['ours / peer', 'saturation', 'at rate', 'CPU/edit', 'p99'], ratios.map(r => [`${r.ours} / ${r.peer}`,
        formatSaturationRatio(r),
        r.commonRate === null ? (r.cpuRate === null ? 'n/a' : `${r.cpuRate} (peer failed)`) : String(r.commonRate),
        r.cpuPerKiloEditRatio === null ? 'n/a' : `${r.cpuPerKiloEditRatio.toFixed(2)}x`, r.p99Ratio === null ? 'n/a' : `${r.p99Ratio.toFixed(2)}x`])))
    }
    if (failures.length) out.push(`\nfailures:\n  ${failures.join('\n  ')}`)
    console.log(out.join('\n'))
  }
  return failures.length === 0
}

// ---------------------------------------------------------------------------------------------
// Idle memory

interface IdleRow { target: TargetName, label: string, devices: number, synced: number, baselineRssMb: number, rssMb: number, settledRssMb: number | null, peakRssMb: number, perConnectionKb: number, connectSeconds: number }

// Idle needs the baseline before the fleet connects, so it drives targets itself.
const runIdleMode = async () => {
  const rows: IdleRow[] = []
  const warnings: string[] = []
  const failures: string[] = []
  const docs = Math.ceil(opts.idleDevices / opts.devicesPerDoc)
  for (const name of targets) {
    if (Date.now() > deadline) { failures.push(`${name}: skipped, deadline passed`); continue }
    log(`\n[${name}] starting (idle)`)
    let target: Target
    try { target = await startTarget(name, targetOptions) } catch (err) { failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`); continue }
    if (target.warning) { warnings.push(target.warning); log(target.warning) }
    const gens = spawnGenerators(Math.min(opts.generators, docs), opts.genNodeFlags, opts.genCpus)
    try {
      const runId = randomBytes(4).toString('hex')
      gens.forEach((g, i) => tell(g, {
        cmd: 'setup', httpUrl: target.httpUrl, syncUrl: target.syncUrl, framing: target.framing, auth: target.auth, loginPerDevice: opts.loginPerDevice,
        docs: Array.from({ length: docs }, (_, k) => k).filter(k => k % gens.length === i), devicesPerDoc: opts.devicesPerDoc, runId,
        loginConcurrency: opts.loginConcurrency, connectBatch: opts.connectBatch, deadline
      }))
      // Baseline after logins (password hashing inflates a server's heap) and before any socket.
      await Promise.all(gens.map(g => next(g, 'prepared', deadline + 10_000)))
      await sleep(2000)
      const base: ProcSample | null = sampleProcess(target.pid)
      for (const g of gens) tell(g, { cmd: 'connect' })
      const ready = await Promise.all(gens.map(g => next(g, 'ready', deadline + 10_000)))
      const synced = ready.reduce((a, r) => a + r.synced, 0)
      const devices = ready.reduce((a, r) => a + r.devices, 0)
      log(`[${name}] ${synced}/${devices} idle devices synced; holding ${opts.idleSeconds} s`)
      const connected = Date.now()
      const holdUntil = async (seconds: number) => { const until = Math.min(connected + seconds * 1000, deadline); while (Date.now() < until) await sleep(200) }
      await holdUntil(opts.idleSeconds)
      const s = sampleProcess(target.pid)
      if (!base || !s) throw new Error('server process gone')
      let settled: ProcSample | null = null
      if (opts.settleSeconds > opts.idleSeconds) {
        log(`[${name}] sampled at ${opts.idleSeconds} s; holding to ${opts.settleSeconds} s to sample the settled footprint`)
        await holdUntil(opts.settleSeconds)
        settled = sampleProcess(target.pid)
        if (!settled) throw new Error('server process gone')
      }
      rows.push({
        target: name, label: target.label, devices, synced, baselineRssMb: base.rssMb, rssMb: s.rssMb, settledRssMb: settled?.rssMb ?? null, peakRssMb: settled?.peakRssMb ?? s.peakRssMb,
        perConnectionKb: (s.rssMb - base.rssMb) * 1024 / Math.max(1, synced), connectSeconds: Math.max(...ready.map(r => r.connectSeconds))
      })
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`)
      log(`--- server log tail ---\n${target.logTail()}`)
    } finally {
      await stopGenerators(gens)
      await target.stop()
    }
  }
  const isOurs = (r: IdleRow) => r.target.startsWith('ours')
  const ratios = rows.filter(isOurs).flatMap(ours => rows.filter(r => !isOurs(r)).map(r => ({
    ours: ours.label, peer: r.label, rssRatio: ours.rssMb / r.rssMb,
    settledRssRatio: ours.settledRssMb !== null && r.settledRssMb !== null ? ours.settledRssMb / r.settledRssMb : null,
    perConnectionRatio: ours.perConnectionKb / Math.max(0.001, r.perConnectionKb)
  })))
  if (v.json) {
    console.log(JSON.stringify({ mode: 'idle', config: { ...opts, targets, docs }, warnings, rows, ratios, failures }, null, 2))
  } else {
    const out: string[] = [`\n=== idle: ${opts.idleDevices} connected, synced, idle devices (${docs} docs x ${opts.devicesPerDoc}), sampled ${opts.idleSeconds} s after connecting${opts.settleSeconds > opts.idleSeconds ? ` and again at ${opts.settleSeconds} s` : ''} ===`]
    for (const w of warnings) out.push(w)
    const settledCol = `settled RSS MB @${opts.settleSeconds}s`
    const hasSettled = rows.some(r => r.settledRssMb !== null)
    out.push(table(['target', 'synced', 'baseline RSS MB', `RSS MB @${opts.idleSeconds}s`, ...(hasSettled ? [settledCol] : []), 'peak RSS MB', 'KB/connection', 'connect s'],
      rows.map(r => [r.label, `${r.synced}/${r.devices}`, f1(r.baselineRssMb), f1(r.rssMb), ...(hasSettled ? [r.settledRssMb === null ? '-' : f1(r.settledRssMb)] : []), f1(r.peakRssMb), f1(r.perConnectionKb), f1(r.connectSeconds)])))
    out.push(`KB/connection = (RSS @${opts.idleSeconds}s − RSS before the devices connected) / synced devices.`)
    if (ratios.length) {
      out.push(table(['ours / peer', `RSS @${opts.idleSeconds}s`, ...(hasSettled ? [`settled @${opts.settleSeconds}s`] : []), 'KB/connection'],
        ratios.map(r => [`${r.ours} / ${r.peer}`, `${r.rssRatio.toFixed(2)}x`, ...(hasSettled ? [r.settledRssRatio === null ? '-' : `${r.settledRssRatio.toFixed(2)}x`] : []), `${r.perConnectionRatio.toFixed(2)}x`])))
    }
    if (failures.length) out.push(`\nfailures:\n  ${failures.join('\n  ')}`)
    console.log(out.join('\n'))
  }
  return failures.length === 0
}
log('compiling the targets (tsconfig.build.json and tsconfig.bench.json → build/) …')
await compileTargets()
const ok = mode === 'idle' ? await runIdleMode() : await runSteady()
killAllChildren()
process.exit(ok ? 0 : 1)
