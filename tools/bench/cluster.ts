/**
 * `npm run bench:cluster`: three cluster nodes (PostgreSQL + Redis) against one LevelDB node, same
 * workload. Per rate step: server CPU per edit (every node process summed), Redis and PostgreSQL CPU
 * per edit, and device-to-device latency. With 3 devices per document spread over 3 nodes, every
 * delivery in the cluster run crosses nodes. Redis and PostgreSQL are instances of the bench's own
 * (test/cluster/harness.ts), so their CPU is this workload's alone: the whole PostgreSQL instance
 * (postmaster, its live children and the children it reaped) and the redis-server process.
 * Authentication is off (--insecure-no-auth): sign-ins would dominate a short run's CPU. Servers run
 * compiled, as `npm start` runs them.
 */
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { execFileSync } from 'node:child_process'
import { ClusterNode, OwnPostgres, OwnRedis, type NodeOptions } from '../../test/cluster/harness.js'
import { startChildServer, type ChildServer } from '../../test/helpers/child-server.js'
import { closeFleet, createFleet } from '../load/fleet.js'
import { runScenario } from '../load/scenarios.js'
import { RunStats } from '../load/run-stats.js'
import { sampleProcess } from '../load/proc.js'
import { OURS_ENTRY } from './targets.js'

const { values: v } = parseArgs({
  options: {
    rates: { type: 'string', default: '5000,10000' }, seconds: { type: 'string', default: '5' }, warmup: { type: 'string', default: '5' }, nodes: { type: 'string', default: '3' },
    'rate-per-device': { type: 'string', default: '10' }, 'tick-ms': { type: 'string', default: '5' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    'skip-single': { type: 'boolean', default: false }
  }
})
if (v.help) {
  console.log(`Usage: npm run bench:cluster -- [--rates 5000,10000] [--seconds 5] [--warmup 5] [--nodes 3] [--rate-per-device 10] [--tick-ms 5] [--skip-single] [--json]
Offered edits/s per step; documents = rate / (3 × rate-per-device), 3 devices each. Each setup first runs
an unmeasured step of --warmup seconds at the first rate (0: none), so JIT compilation and first
connections are not measured. --tick-ms: ms between rounds of the load tool's edit loop; each round
sends the edits due since the last, so 1 spreads them closer to independent devices than 5 does.`)
  process.exit(0)
}
const rates = v.rates.split(',').map(Number)
const seconds = Number(v.seconds)
const warmup = Number(v.warmup)
const perDevice = Number(v['rate-per-device'])
const say = (s: string) => process.stderr.write(`[bench:cluster] ${s}\n`)

const TICKS = 100
/** utime+stime (+ reaped children's cutime+cstime) of a pid, in seconds. */
const procCpu = (pid: number, withReaped = false): number => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12]) + (withReaped ? Number(f[13]) + Number(f[14]) : 0)) / TICKS
  } catch { return 0 }
}
const childrenOf = (ppid: number): number[] => fs.readdirSync('/proc').filter(d => /^\d+$/.test(d)).filter(d => {
  try { const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === ppid } catch { return false }
}).map(Number)
/** The whole PostgreSQL instance: postmaster with reaped children, plus its live children. */
const pgCpu = (postmaster: number) => procCpu(postmaster, true) + childrenOf(postmaster).reduce((a, p) => a + procCpu(p), 0)

interface Row { setup: string, offered: number, editsPerSecond: number, p50: number, p99: number, serverCpuPerEditUs: number, redisCpuPerEditUs: number | null, pgCpuPerEditUs: number | null, lost: number, diverged: number }

const step = async (setup: string, urls: string[], nodePids: number[], offered: number, redisPid: number | null, pgPid: number | null, stepSeconds = seconds): Promise<Row> => {
  const stats = new RunStats()
  const users = await createFleet({ target: urls[0]!, urls, users: Math.max(1, Math.round(offered / (3 * perDevice))), devicesPerUser: 3, mode: 'light', auth: 'none', runId: randomBytes(4).toString('hex'), loginConcurrency: 1 }, stats)
  interface Sample { t: number, node: number, redis: number, pg: number, edits: number }
  let start: Sample | undefined
  let last: Sample | undefined
  const sample = (): Sample => ({ t: performance.now(), node: nodePids.reduce((a, p) => a + (sampleProcess(p)?.cpuSeconds ?? 0), 0), redis: redisPid ? procCpu(redisPid) : 0, pg: pgPid ? pgCpu(pgPid) : 0, edits: stats.editsSent })
  try {
    const result = await runScenario('steady', users, {
      seconds: stepSeconds, rate: perDevice, tickMs: Number(v['tick-ms']), offlineEdits: 0, history: 0, unloadWaitSeconds: 0, connectBatch: 100, deadline: Date.now() + 180_000,
      // The measured window: from the barrier before the edits to the last progress tick of the edit loop.
      beforeMeasure: async () => { start = sample() },
      onProgress: () => { last = sample() }
    }, stats)
    const s = start!, e = last!
    const edits = e.edits - s.edits
    const l = stats.latency.summary()
    const us = (cpu: number) => edits > 0 ? cpu / edits * 1e6 : NaN
    const row: Row = {
      setup, offered, editsPerSecond: edits / ((e.t - s.t) / 1000), p50: l.p50, p99: l.p99,
      serverCpuPerEditUs: us(e.node - s.node), redisCpuPerEditUs: redisPid ? us(e.redis - s.redis) : null, pgCpuPerEditUs: pgPid ? us(e.pg - s.pg) : null,
      lost: result.convergence.lostEdits, diverged: result.convergence.divergedDevices
    }
    say(`${setup} @${offered}: ${row.editsPerSecond.toFixed(0)} edits/s, p50 ${l.p50.toFixed(1)} ms p99 ${l.p99.toFixed(1)} ms, server ${row.serverCpuPerEditUs.toFixed(1)} µs/edit`)
    return row
  } finally {
    closeFleet(users)
  }
}

const main = async () => {
  const rows: Row[] = []
  const pgInstance = new OwnPostgres()
  const redis = new OwnRedis()
  const nodes: ClusterNode[] = []
  let single: ChildServer | undefined
  try {
    // Every server runs as `npm start` runs it: compiled (npm run build), not under a TypeScript loader.
    say('building the server (npm run build) …')
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'inherit' })
    say('starting PostgreSQL and Redis of the bench\'s own')
    await pgInstance.init()
    await redis.start()
    const dataDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'bench-cluster-'))
    // Documents stay loaded for the whole run (--unload-grace-ms 10 min): a step's unloads and their
    // compactions would otherwise land in a later step's figures.
    const entry = [...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), OURS_ENTRY]
    const opts: NodeOptions = { entry, databaseUrl: await pgInstance.createDatabase(), redisUrl: redis.url, redisPrefix: 'bench:', dataDir, args: ['--insecure-no-auth', '--log-level', 'warn', '--unload-grace-ms', '600000'] }
    for (let i = 0; i < Number(v.nodes); i++) nodes.push(new ClusterNode(String(i + 1), opts))
    await nodes[0]!.start()
    await Promise.all(nodes.slice(1).map(n => n.start()))
    const postmaster = Number(fs.readFileSync(path.join(pgInstance.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
    const clusterStep = (r: number, s?: number) => step(`${nodes.length} nodes`, nodes.map(n => n.url), nodes.map(n => n.pid), r, redis.proc.pid!, postmaster, s)
    if (warmup > 0) { say('warm-up (not measured)'); await clusterStep(rates[0]!, warmup) }
    for (const r of rates) rows.push(await clusterStep(r))
    await Promise.all(nodes.map(n => n.stop()))
    if (!v['skip-single']) {
      single = await startChildServer(['--data-dir', fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'bench-single-')), '--insecure-no-auth', '--log-level', 'info', '--unload-grace-ms', '600000'], {}, entry)
      const singleStep = (r: number, s?: number) => step('1 node (LevelDB)', [single!.url], [single!.proc.pid!], r, null, null, s)
      if (warmup > 0) { say('warm-up (not measured)'); await singleStep(rates[0]!, warmup) }
      for (const r of rates) rows.push(await singleStep(r))
    }
  } finally {
    // SIGTERM, and wait: a node run with --cpu-prof writes its profile on the way out.
    single?.proc.kill('SIGTERM')
    await single?.exited
    await Promise.all(nodes.map(n => n.kill9()))
    await redis.kill9().catch(() => {})
    await pgInstance.destroy()
  }
  if (v.json) { console.log(JSON.stringify(rows, null, 2)); return }
  const f = (n: number | null, d = 1) => n === null || !Number.isFinite(n) ? '-' : n.toFixed(d)
  console.log('| setup | offered edits/s | achieved | p50 ms | p99 ms | server CPU µs/edit (all nodes) | Redis µs/edit | PostgreSQL µs/edit | lost | diverged |')
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.setup} | ${r.offered} | ${f(r.editsPerSecond, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.serverCpuPerEditUs)} | ${f(r.redisCpuPerEditUs)} | ${f(r.pgCpuPerEditUs)} | ${r.lost} | ${r.diverged} |`)
}

main().then(() => process.exit(0), (err: Error) => { console.error(`bench:cluster: ${err.stack ?? err.message}`); process.exit(1) })
