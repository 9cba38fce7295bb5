/**
 * The bench's generator processes (gen.ts, forked with IPC): spawn them, wait for their answers, tell
 * them what to do, stop them. Every child is registered so that it dies with the bench.
 */
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { FromGen, ToGen } from './ipc.js'
import { pinned } from './pin.js'
import { registerChild } from './targets.js'

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

export interface Gen { proc: ChildProcess, inbox: FromGen[], waiters: (() => void)[], exited: boolean }

/** `cpus`: a taskset -c list the generators run on (pin.ts); every core when absent. */
export const spawnGenerators = (n: number, execArgv: string[], cpus?: string): Gen[] => Array.from({ length: n }, () => {
  // fork() runs `execPath ...execArgv module`: under taskset that is `taskset -c LIST node ...flags gen.js`,
  // and the IPC channel's descriptor survives taskset's exec.
  const run = pinned(cpus, execArgv)
  const proc = fork(path.resolve(import.meta.dirname, '../../build/tools/bench/gen.js'), [], { execPath: run.command, execArgv: run.args, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  registerChild(proc)
  const g: Gen = { proc, inbox: [], waiters: [], exited: false }
  proc.on('message', (m: FromGen) => { g.inbox.push(m); for (const w of g.waiters.splice(0)) w() })
  proc.on('exit', () => { g.exited = true; for (const w of g.waiters.splice(0)) w() })
  return g
})

export const next = async <E extends FromGen['evt']>(g: Gen, evt: E, deadline: number): Promise<Extract<FromGen, { evt: E }>> => {
  while (true) {
    const i = g.inbox.findIndex(m => m.evt === evt || m.evt === 'error')
    if (i >= 0) {
      const m = g.inbox.splice(i, 1)[0]!
      if (m.evt === 'error') throw new Error(`generator: ${m.message}`)
      return m as Extract<FromGen, { evt: E }>
    }
    if (g.exited) throw new Error('generator exited')
    if (Date.now() > deadline) throw new Error(`generator did not answer '${evt}' in time`)
    await new Promise<void>(resolve => { g.waiters.push(resolve); setTimeout(resolve, 500).unref() })
  }
}

export const tell = (g: Gen, msg: ToGen) => { if (!g.exited && g.proc.connected) g.proc.send(msg) }

export const stopGenerators = async (gens: Gen[]) => {
  for (const g of gens) tell(g, { cmd: 'exit' })
  const until = Date.now() + 3000
  while (gens.some(g => !g.exited) && Date.now() < until) await sleep(50)
  for (const g of gens) if (!g.exited) g.proc.kill('SIGKILL')
}
