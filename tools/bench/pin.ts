/**
 * `--server-cpus` / `--gen-cpus`: run a process under `taskset -c LIST`, so the server and the load
 * generators each get their own cores instead of taking turns on every core. On a 2-core machine this
 * gives every server exactly one core of its own, so "saturates one core" is measured as stated, and
 * keeps the generators off the server's core.
 * Every thread the process starts later (GC helpers, libuv's pool, LevelDB's compaction) inherits the
 * mask, so a server's helper threads share its core too, for ours and the peers alike.
 */
import { execFileSync } from 'node:child_process'

/** A `taskset -c` list: `0`, `0,1`, `0-3`. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/

export const checkCpuList = (list: string, flag: string): string => {
  if (!CPU_LIST.test(list)) throw new Error(`bad ${flag} '${list}': a taskset -c list such as 0 or 0,1 or 0-3`)
  try { execFileSync('taskset', ['-c', list, 'true'], { stdio: 'pipe' }) } catch (err) {
    throw new Error(`${flag} ${list}: taskset failed (${(err as Error).message.split('\n')[0]})`, { cause: err })
  }
  return list
}

/** The command and arguments that run `node args` on `cpus` (unchanged when no list is given). */
export const pinned = (cpus: string | undefined, args: string[]): { command: string, args: string[] } =>
  cpus ? { command: 'taskset', args: ['-c', cpus, process.execPath, ...args] } : { command: process.execPath, args }

/** The CPUs a running process may use (`taskset -pc`), as the report prints them. */
export const affinityOf = (pid: number): string => {
  try { return execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' }).split(':').pop()!.trim() } catch { return '?' }
}
