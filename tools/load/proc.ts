import fs from 'node:fs'

/**
 * CPU seconds (user+system) and memory of a local process, and its main thread's run and wait times
 * (null where the kernel keeps none), read from /proc (Linux).
 */
export interface ProcSample { cpuSeconds: number, rssMb: number, peakRssMb: number, main: MainThreadSched | null }

const TICKS = 100 // USER_HZ on Linux

export const sampleProcess = (pid: number): ProcSample | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
    return { cpuSeconds, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, main: sampleMainThread(pid) }
  } catch {
    return null
  }
}

/**
 * How long a process's main thread ran, and how long it was ready to run but waited for a CPU (ms), from
 * /proc/<pid>/task/<pid>/schedstat (Linux; null where the kernel keeps no such counters). For a Node
 * server the main thread is its event loop: time it waited for a CPU is latency the server did not make,
 * the machine's other work (load generators, the server's own GC and I/O threads) did.
 */
export interface MainThreadSched { runMs: number, waitMs: number }

export const sampleMainThread = (pid: number): MainThreadSched | null => {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number)
    return Number.isFinite(run) && Number.isFinite(wait) ? { runMs: run! / 1e6, waitMs: wait! / 1e6 } : null
  } catch {
    return null
  }
}

/** A local server's CPU and main-thread times since `before` and its memory now (null without both samples). */
export const serverUsageSince = (pid: number | null, before: ProcSample | null): ProcSample | null => {
  const now = pid ? sampleProcess(pid) : null
  if (!now || !before) return null
  const main = now.main && before.main ? { runMs: now.main.runMs - before.main.runMs, waitMs: now.main.waitMs - before.main.waitMs } : null
  return { cpuSeconds: now.cpuSeconds - before.cpuSeconds, peakRssMb: now.peakRssMb, rssMb: now.rssMb, main }
}

/**
 * The pid of the local process listening on TCP `port`, or null (Linux: /proc/net/tcp{,6} give the
 * listening socket's inode, /proc/<pid>/fd links name the process holding it). Lets the load tool
 * report a local server's CPU and RSS without being told its pid.
 */
export const findListeningPid = (port: number): number | null => {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = fs.readFileSync(table, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A') continue // 0A = LISTEN
      if (parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!)
    }
  }
  if (inodes.size === 0) return null
  let pids: string[]
  try { pids = fs.readdirSync('/proc').filter(d => /^\d+$/.test(d)) } catch { return null }
  for (const pid of pids) {
    let fds: string[]
    try { fds = fs.readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      let link: string
      try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
      const m = /^socket:\[(\d+)\]$/.exec(link)
      if (m && inodes.has(m[1]!)) return Number(pid)
    }
  }
  return null
}
