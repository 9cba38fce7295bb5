/**
 * How busy given CPUs were, from /proc/stat (Linux). A process's own CPU time misses work the kernel
 * does for it outside its account, chiefly softirq: loopback TCP delivers each segment in softirq on
 * the sending CPU. With the bench's processes pinned (pin.ts), the busy share of a core tells whether
 * that core, not just the process, was full: a server whose core is full is saturated, and a step whose
 * generator cores are full measured the generators.
 */
import fs from 'node:fs'
import os from 'node:os'

export interface CpuTimes { busy: number, total: number }

/** `0`, `0,1`, `0-3` → CPU numbers; undefined → every CPU of the machine. */
export const expandCpuList = (list: string | undefined): number[] => list === undefined
  ? os.cpus().map((_, i) => i)
  : list.split(',').flatMap(part => {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined]
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i)
  })

/** Per CPU: jiffies busy (user, nice, system, irq, softirq, steal) and in all (plus idle, iowait). */
export const parseProcStat = (text: string): Map<number, CpuTimes> => {
  const out = new Map<number, CpuTimes>()
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (!m) continue
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2]!.trim().split(/\s+/).map(Number) as number[]
    const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0)
    out.set(Number(m[1]), { busy, total: busy + idle! + iowait! })
  }
  return out
}

export const readCpuTimes = (): Map<number, CpuTimes> | null => {
  try { return parseProcStat(fs.readFileSync('/proc/stat', 'utf8')) } catch { return null }
}

/** Busy share of `cpus` between two readings (0..1; NaN without readings or time between them). */
export const busyShare = (before: Map<number, CpuTimes> | null, after: Map<number, CpuTimes> | null, cpus: number[]): number => {
  if (!before || !after) return NaN
  let busy = 0
  let total = 0
  for (const c of cpus) {
    const a = before.get(c)
    const b = after.get(c)
    if (!a || !b) continue
    busy += b.busy - a.busy
    total += b.total - a.total
  }
  return total > 0 ? busy / total : NaN
}
