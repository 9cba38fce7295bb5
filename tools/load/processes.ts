/**
 * `--processes N`: one load run split over N generator processes, for rates one process cannot offer
 * (one saturates near 15,000 edits/s on a 2-core machine). Each process is this same CLI, forked with
 * an IPC channel, driving its own share of the users (its own run id, so its own accounts and
 * documents). Every process connects its devices, then waits at a barrier, so that the measured
 * phases start together; the parent merges the reports (merge.ts) and measures the server itself.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { runLoadWithStats, type LoadOptions } from './run.js'
import { mergeReports, type WorkerResult } from './merge.js'
import { sampleProcess, serverUsageSince } from './proc.js'
import type { ScenarioOptions } from './scenarios.js'
import type { LoadReport } from './report.js'

/** Options as they travel to a worker: everything but the callbacks. */
type WorkerOptions = Omit<LoadOptions, 'scenarioOptions'> & { scenarioOptions: Omit<ScenarioOptions, 'onProgress' | 'beforeMeasure'> }
type ToWorker = { cmd: 'run', opts: WorkerOptions, progress: boolean } | { cmd: 'go' }
type FromWorker = { evt: 'ready' } | { evt: 'progress', line: string } | { evt: 'result', result: WorkerResult } | { evt: 'error', message: string }

export const WORKER_ENV = 'LOADTEST_WORKER'

/** Users per process: as even as possible, no process without users. */
export const splitUsers = (users: number, processes: number): number[] =>
  Array.from({ length: Math.min(processes, users) }, (_, i) => Math.floor(users / processes) + (i < users % processes ? 1 : 0))

/** `script`: this CLI, run with `execArgv` (default: this process's, e.g. tsx's loader). */
export const runInProcesses = async (processes: number, opts: LoadOptions, script: string, execArgv = process.execArgv): Promise<LoadReport> => {
  const { onProgress, beforeMeasure: _, ...scenarioOptions } = opts.scenarioOptions
  const shares = splitUsers(opts.fleet.users, processes)
  const serverBefore = opts.serverPid ? sampleProcess(opts.serverPid) : null
  const cpuBefore = process.cpuUsage()
  const children: ChildProcess[] = []
  const killAll = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') }
  process.once('exit', killAll)
  try {
    const results = await new Promise<WorkerResult[]>((resolve, reject) => {
      const out: WorkerResult[] = []
      let ready = 0
      const fail = (err: Error) => { killAll(); reject(err) }
      // Bounded like every other loop: past the run's deadline (and a minute for convergence) give up.
      const timer = setTimeout(() => fail(new Error('worker processes passed the deadline')), Math.max(1000, scenarioOptions.deadline - Date.now() + 60_000))
      timer.unref()
      shares.forEach((users, i) => {
        const child = fork(script, [], { execArgv, env: { ...process.env, [WORKER_ENV]: '1' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' })
        children.push(child)
        child.on('message', (m: FromWorker) => {
          if (m.evt === 'progress') onProgress(`(${shares.length} processes, 1st shown) ${m.line}`)
          else if (m.evt === 'ready' && ++ready === shares.length) for (const c of children) c.send({ cmd: 'go' } satisfies ToWorker)
          else if (m.evt === 'error') fail(new Error(`worker ${i}: ${m.message}`))
          else if (m.evt === 'result') {
            out.push(m.result)
            if (out.length === shares.length) { clearTimeout(timer); resolve(out) }
          }
        })
        child.on('exit', code => { if (out.length < shares.length && code !== 0) fail(new Error(`worker ${i} exited with ${code}`)) })
        const fleet = { ...opts.fleet, users, runId: `${opts.fleet.runId}p${i}` }
        child.send({ cmd: 'run', opts: { ...opts, fleet, serverPid: null, scenarioOptions }, progress: i === 0 } satisfies ToWorker)
      })
    })
    const cpu = process.cpuUsage(cpuBefore)
    return mergeReports(results, serverUsageSince(opts.serverPid, serverBefore), (cpu.user + cpu.system) / 1e6)
  } finally {
    killAll()
    process.removeListener('exit', killAll)
  }
}

/** The worker side: run the share it is given, wait at the barrier before measuring, send the result. */
export const runWorker = () => {
  const send = (m: FromWorker) => process.send?.(m)
  /** Send the last message, then exit once it is on its way. */
  const finish = (m: FromWorker, code: number) => process.send?.(m, undefined, {}, () => process.exit(code))
  let go: (() => void) | null = null
  process.on('disconnect', () => process.exit(3)) // never outlive the parent
  process.on('message', (m: ToWorker) => {
    if (m.cmd === 'go') { go?.(); return }
    const barrier = () => new Promise<void>(resolve => { go = resolve; send({ evt: 'ready' }) })
    const onProgress = m.progress ? (line: string) => send({ evt: 'progress', line }) : () => {}
    runLoadWithStats({ ...m.opts, scenarioOptions: { ...m.opts.scenarioOptions, onProgress, beforeMeasure: barrier } })
      .then(({ report, stats }) => finish({ evt: 'result', result: { report, samples: stats.latency.raw() } }, 0))
      .catch((err: Error) => finish({ evt: 'error', message: err.message }, 1))
  })
}
