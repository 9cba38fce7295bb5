import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { affinityOf, checkCpuList, pinned } from '../pin.js'

describe('bench CPU pinning', () => {
  it('runs node unchanged without a list, and under taskset with one', () => {
    expect(pinned(undefined, ['a.js'])).toEqual({ command: process.execPath, args: ['a.js'] })
    expect(pinned('0', ['--flag', 'a.js'])).toEqual({ command: 'taskset', args: ['-c', '0', process.execPath, '--flag', 'a.js'] })
  })

  it('puts the process and its later threads on the listed CPUs', async () => {
    // The child says so once its worker thread runs: the thread list is complete from then on.
    const script = 'const { Worker } = require("node:worker_threads"); new Worker("setTimeout(() => {}, 30000)", { eval: true }).once("online", () => console.log("worker online")); setTimeout(() => {}, 30000)'
    const run = pinned('0', ['-e', script])
    const child = spawn(run.command, run.args, { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      await new Promise<void>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (b: Buffer) => { out += b; if (out.includes('worker online')) resolve() })
        child.once('exit', code => reject(new Error(`child exited (${code}) before its worker ran`)))
      })
      expect(affinityOf(child.pid!)).toBe('0')
      // Every thread, the worker started after launch included, carries the mask.
      const threads = readdirSync(`/proc/${child.pid}/task`).map(Number)
      expect(threads.length).toBeGreaterThan(2)
      for (const tid of threads) expect(affinityOf(tid)).toBe('0')
    } finally { child.kill() }
  })

  it('refuses a list that is not one, or names a CPU the machine lacks', () => {
    expect(() => checkCpuList('0;rm', '--server-cpus')).toThrow(/bad --server-cpus '0;rm'/)
    expect(() => checkCpuList('4095', '--gen-cpus')).toThrow(/--gen-cpus 4095: taskset failed/)
    expect(checkCpuList('0', '--server-cpus')).toBe('0')
  })
})
