import fs from 'node:fs'

/** CPU seconds (user+system) and memory of a local process, read from /proc (Linux). */
export interface ProcSample { cpuSeconds: number, rssMb: number, peakRssMb: number }

const TICKS = 100 // USER_HZ on Linux

export const sampleProcess = (pid: number): ProcSample | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
    return { cpuSeconds, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 }
  } catch {
    return null
  }
}
