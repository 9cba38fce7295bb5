import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { busyShare, expandCpuList, parseProcStat, readCpuTimes } from '../cpu-stat.js'

const stat = (cpu0: string, cpu1: string) => `cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 ${cpu0}\ncpu1 ${cpu1}\nintr 1 2 3\nctxt 99\n`

describe('bench CPU busy share', () => {
  it('expands a taskset list, and no list to every CPU', () => {
    expect(expandCpuList('0')).toEqual([0])
    expect(expandCpuList('0,2-4,7')).toEqual([0, 2, 3, 4, 7])
    expect(expandCpuList(undefined)).toEqual(os.cpus().map((_, i) => i))
  })

  it('counts softirq, irq and steal as busy, idle and iowait as not', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const t = parseProcStat(stat('10 1 5 100 4 2 30 3 0 0', '0 0 0 50 0 0 0 0 0 0'))
    expect(t.get(0)).toEqual({ busy: 10 + 1 + 5 + 2 + 30 + 3, total: 51 + 104 })
    expect(t.get(1)).toEqual({ busy: 0, total: 50 })
    expect(t.has(-1)).toBe(false)
  })

  it('is the busy share of the listed CPUs between two readings', () => {
    const a = parseProcStat(stat('0 0 0 0 0 0 0 0 0 0', '0 0 0 0 0 0 0 0 0 0'))
    // CPU 0: 60 user + 30 softirq busy, 10 idle; CPU 1: 10 busy, 90 idle.
    const b = parseProcStat(stat('60 0 0 10 0 0 30 0 0 0', '10 0 0 90 0 0 0 0 0 0'))
    expect(busyShare(a, b, [0])).toBeCloseTo(0.9)
    expect(busyShare(a, b, [1])).toBeCloseTo(0.1)
    expect(busyShare(a, b, [0, 1])).toBeCloseTo(0.5)
    expect(busyShare(a, a, [0])).toBeNaN()
    expect(busyShare(null, b, [0])).toBeNaN()
  })

  it('reads this machine: a busy loop shows on the CPUs', async () => {
    const before = readCpuTimes()!
    expect([...before.keys()].sort((x, y) => x - y)).toEqual(os.cpus().map((_, i) => i))
    const until = Date.now() + 300
    while (Date.now() < until) { /* spin: one CPU fully busy */ }
    const share = busyShare(before, readCpuTimes(), expandCpuList(undefined))
    expect(share).toBeGreaterThanOrEqual(0.9 / os.cpus().length)
    expect(share).toBeLessThanOrEqual(1)
  })
})
