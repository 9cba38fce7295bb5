/**
 * The benchmark's targets, each started as its own child process on 127.0.0.1 with a free port,
 * one at a time. Every child is registered so that it is killed when the benchmark exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { createRequire } from 'node:module'
import { pinned } from './pin.js'

const root = path.resolve(import.meta.dirname, '../..')
const require = createRequire(import.meta.url)

export const TARGETS = ['ours', 'ours-lean', 'ours-noauth', 'yws', 'yws-mem', 'hocuspocus', 'relay'] as const
export type TargetName = (typeof TARGETS)[number]

export interface Target {
  name: TargetName
  /** Row label, e.g. `ours (auth)`. */
  label: string
  /** Printed under the table: persistence, auth, fall-backs. */
  note: string
  /** A loud warning for the table header (auth fall-back), if any. */
  warning: string | null
  pid: number
  httpUrl: string
  syncUrl: string
  framing: 'y-websocket' | 'hocuspocus'
  auth: 'api' | 'none'
  stop: () => Promise<void>
  logTail: () => string
}

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()

/** Kill every child still running and remove the targets' temp dirs (exit, SIGINT, SIGTERM, uncaught errors). */
export const killAllChildren = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL') } catch { /* gone */ } }
  for (const d of tempDirs) { try { fs.rmSync(d, { recursive: true, force: true }) } catch { /* best effort */ } }
  tempDirs.clear()
}
export const registerChild = (c: ChildProcess) => { children.add(c); c.on('exit', () => children.delete(c)) }

export const freePort = () => new Promise<number>((resolve, reject) => {
  const s = net.createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const addr = s.address()
    const port = typeof addr === 'object' && addr ? addr.port : 0
    s.close(() => resolve(port))
  })
})

interface Spawned { proc: ChildProcess, url: string, logTail: () => string, stop: () => Promise<void> }

/**
 * Spawn `node <args>` and wait until `listening(line)` returns the server's http URL. The child's
 * output is drained continuously (a full pipe would stall it); the last lines are kept for errors.
 */
const spawnServer = async (args: string[], env: NodeJS.ProcessEnv, listening: (line: string) => string | null, cpus: string | undefined, timeoutMs = 30_000): Promise<Spawned> => {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k]
  const run = pinned(cpus, args)
  const proc = spawn(run.command, run.args, { cwd: root, env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
  registerChild(proc)
  const tail: string[] = []
  const keep = (line: string) => { tail.push(line); if (tail.length > 40) tail.shift() }
  const logTail = () => tail.join('\n')
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)))
  readline.createInterface({ input: proc.stderr! }).on('line', keep)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`did not start within ${timeoutMs} ms:\n${logTail()}`)) }, timeoutMs)
    readline.createInterface({ input: proc.stdout! }).on('line', line => {
      keep(line)
      const u = listening(line)
      if (u) { clearTimeout(timer); resolve(u) }
    })
    void exited.then(code => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${logTail()}`)) })
  })
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>(r => setTimeout(() => r(false), 5000).unref())])
    if (!done) { proc.kill('SIGKILL'); await exited }
  }
  return { proc, url, logTail, stop }
}

/** The `{"msg":"listening","url":…}` JSON line that ours, the relay and the hocuspocus wrapper print. */
const jsonListening = (line: string) => {
  try {
    const e = JSON.parse(line) as { msg?: string, url?: string }
    return e.msg === 'listening' && e.url ? e.url : null
  } catch { return null }
}

/**
 * Every target written in TypeScript runs compiled (build/, as `npm start` runs ours), so none pays
 * for a TypeScript loader in its memory or start-up; `compileTargets` builds them once per run.
 */
const builtArgs = (file: string, ...rest: string[]) => [path.join(root, 'build', file.replace(/\.ts$/, '.js')), ...rest]
/** Ours runs as `npm start` runs it: package.json's start script (`node build/server/main.js`), with its Node flags and environment if it sets any. */
const startScript: string = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start
const startWords = startScript.split(/\s+/)
export const OURS_ENTRY = path.join(root, startWords.find(a => a.endsWith('.js')) ?? 'build/server/main.js')
export const OURS_NODE_FLAGS = startWords.filter(a => a.startsWith('--'))
/** … and with the environment it sets (`NAME=value`, or `NAME=${NAME:-value}`: the caller's value wins). */
export const OURS_ENV: NodeJS.ProcessEnv = Object.fromEntries(startWords
  .map(a => /^([A-Z_][A-Z0-9_]*)=(?:\$\{\1:-(.*)\}|(.*))$/.exec(a))
  .filter((m): m is RegExpExecArray => m !== null)
  .map(m => [m[1]!, process.env[m[1]!] ?? m[2] ?? m[3]]))
/**
 * The memory-lean option docs/performance.md lists (`NODE_OPTIONS=--max-semi-space-size=4`): V8's
 * young generation capped at 4 MB per semi-space instead of 16, for less RSS.
 */
export const LEAN_NODE_FLAGS = ['--max-semi-space-size=4']
/** Ours as `npm run build` compiles it (tsconfig.build.json); the peers' TypeScript, the load tool and the generators with tsconfig.bench.json. */
export const compileTargets = async () => {
  const tsc = require.resolve('typescript/bin/tsc')
  for (const config of ['tsconfig.build.json', 'tsconfig.bench.json']) {
    execFileSync(process.execPath, [tsc, '-p', path.join(root, config)], { cwd: root, stdio: 'inherit' })
  }
}

/** `cpus`: a taskset -c list the server runs on (pin.ts); every core when absent. */
export interface TargetOptions { oursArgs: string[], oursNodeFlags?: string[], cpus?: string }

export const startTarget = async (name: TargetName, opts: TargetOptions): Promise<Target> => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`))
  tempDirs.add(tmp)
  const cleanup = () => { fs.rmSync(tmp, { recursive: true, force: true }); tempDirs.delete(tmp) }
  const make = (s: Spawned, t: Omit<Target, 'pid' | 'httpUrl' | 'syncUrl' | 'stop' | 'logTail' | 'name'>, syncPath = '/sync'): Target => ({
    name, pid: s.proc.pid!, httpUrl: s.url, syncUrl: s.url.replace(/^http/, 'ws') + syncPath, logTail: s.logTail,
    stop: async () => { await s.stop(); cleanup() }, ...t
  })
  try {
    switch (name) {
      case 'ours':
      case 'ours-lean':
      case 'ours-noauth': {
        const base = [...OURS_NODE_FLAGS, ...(name === 'ours-lean' ? LEAN_NODE_FLAGS : []), ...(opts.oursNodeFlags ?? []), OURS_ENTRY, '--port', '0', '--host', '127.0.0.1', '--data-dir', tmp, ...opts.oursArgs]
        if (name !== 'ours-noauth') {
          const hasAuth = fs.existsSync(path.join(root, 'server/identity'))
          let why = 'server/identity/ does not exist yet'
          if (hasAuth) {
            // Every simulated user registers and logs in from 127.0.0.1: lift the per-IP/per-account
            // budgets (when this server version has them) unless --ours-args sets them.
            const config = fs.readFileSync(path.join(root, 'server/config.ts'), 'utf8')
            const lift = ['login-attempts-per-ip', 'login-attempts-per-account', 'registrations-per-ip']
              .filter(flag => config.includes(`'${flag}'`) && !opts.oursArgs.includes(`--${flag}`))
              .flatMap(flag => [`--${flag}`, '1000000000'])
            try {
              const s = await spawnServer([...base, ...lift], OURS_ENV, jsonListening, opts.cpus)
              if (name === 'ours-lean') return make(s, { label: 'ours lean (auth)', note: `as ours, with ${LEAN_NODE_FLAGS.join(' ')} (the memory-lean profile)`, warning: null, framing: 'y-websocket', auth: 'api' })
              const extra = opts.oursNodeFlags?.length ? ` [${opts.oursNodeFlags.join(' ')}]` : ''
              return make(s, { label: `ours (auth)${extra}`, note: 'LevelDB in a temp dir; authentication ON (register + DPoP login per user, ?token=)', warning: null, framing: 'y-websocket', auth: 'api' })
            } catch (err) {
              why = `server refused to start without --insecure-no-auth: ${(err as Error).message.split('\n').filter(Boolean).slice(0, 3).join(' | ').slice(0, 300)}`
            }
          }
          const s = await spawnServer([...base, '--insecure-no-auth'], OURS_ENV, jsonListening, opts.cpus)
          return make(s, {
            label: 'ours (NO AUTH!)', note: 'LevelDB in a temp dir; --insecure-no-auth (fallback)',
            warning: `!!! 'ours' RAN WITH --insecure-no-auth: authentication unavailable (${why}). Its rows are NOT the authenticated server. !!!`,
            framing: 'y-websocket', auth: 'none'
          })
        }
        const s = await spawnServer([...base, '--insecure-no-auth'], OURS_ENV, jsonListening, opts.cpus)
        return make(s, { label: 'ours (no auth)', note: 'LevelDB in a temp dir; --insecure-no-auth', warning: null, framing: 'y-websocket', auth: 'none' })
      }
      case 'yws':
      case 'yws-mem': {
        // The package's own bin (src/server.js): HOST/PORT from the environment, y-leveldb
        // persistence when YPERSISTENCE names a directory (src/utils.js). It cannot report a port
        // picked by the OS, so a free port is chosen here first.
        const bin = path.join(path.dirname(require.resolve('@y/websocket-server/package.json')), 'src/server.js')
        const port = await freePort()
        const env: NodeJS.ProcessEnv = { HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: undefined }
        if (name === 'yws') env.YPERSISTENCE = tmp
        const s = await spawnServer([bin], env, line => line.startsWith('running at') ? `http://127.0.0.1:${port}` : null, opts.cpus)
        return make(s, name === 'yws'
          ? { label: '@y/websocket-server', note: '@y/websocket-server 0.1.1 bin, y-leveldb persistence (YPERSISTENCE=temp dir)', warning: null, framing: 'y-websocket', auth: 'none' }
          : { label: '@y/ws-server (mem)', note: '@y/websocket-server 0.1.1 bin, in memory', warning: null, framing: 'y-websocket', auth: 'none' })
      }
      case 'hocuspocus': {
        const s = await spawnServer(builtArgs('tools/bench/hocuspocus-server.ts', '--port', '0', '--host', '127.0.0.1'), {}, jsonListening, opts.cpus)
        return make(s, { label: 'hocuspocus (mem)', note: '@hocuspocus/server 3.4.4 defaults, IN MEMORY (no persistence extension), no auth hook', warning: null, framing: 'hocuspocus', auth: 'none' }, '')
      }
      case 'relay': {
        const s = await spawnServer(builtArgs('tools/bench/raw-relay.ts', '--port', '0', '--host', '127.0.0.1'), {}, jsonListening, opts.cpus)
        return make(s, { label: 'raw ws relay', note: 'bare ws forwarder, no Yjs/storage/auth (physical ceiling)', warning: null, framing: 'y-websocket', auth: 'none' }, '')
      }
    }
  } catch (err) {
    cleanup()
    throw err
  }
}
