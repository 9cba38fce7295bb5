/**
 * Real cluster processes for tests: server nodes (the CLI under tsx, or compiled), an own Redis and an
 * own PostgreSQL, each on a free loopback port, each waited for by an event (a log line), never by a
 * sleep. Every process a harness starts is ended by `stop()`; `kill9()` ends one the hard way.
 */
import { randomBytes } from 'node:crypto'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

const root = path.resolve(import.meta.dirname, '../..')
const run = promisify(execFile)

/** The source CLI under tsx (no build step); `compiledEntry` is what `npm start` runs. */
export const sourceEntry = ['--import', 'tsx', path.join(root, 'server/main.ts')]
export const compiledEntry = [path.join(root, 'build/server/main.js')]

/** The machine's Redis (.ci/run starts it); SYNC_TEST_REDIS_URL points the tests at another one. */
export const SHARED_REDIS_URL = process.env.SYNC_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A port nothing listens on right now (the kernel's choice for port 0). */
export const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const srv = net.createServer()
  srv.once('error', reject)
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as net.AddressInfo
    srv.close(() => resolve(port))
  })
})

const tempRoot = () => process.env.SYNC_TEST_TMP ?? os.tmpdir()

/** Keeps the last `max` lines a process wrote: enough to explain a failure, bounded in memory. */
class LogTail {
  readonly lines: string[] = []
  constructor (private readonly max = 2000) {}
  push (line: string) { this.lines.push(line); if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max) }
  text () { return this.lines.join('\n') }
}

/**
 * Waits until `child` writes a line that `match` accepts (stdout and stderr both), or rejects when it
 * exits first or `timeoutMs` passes (a bound on a hang, not an assertion about speed).
 */
const waitForLine = (child: ChildProcess, logs: LogTail, match: (line: string) => boolean, what: string, timeoutMs = 90_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const streams = [child.stdout, child.stderr].filter(s => s !== null)
    const rls = streams.map(s => readline.createInterface({ input: s }))
    const done = () => { clearTimeout(timer); child.off('exit', onExit); for (const rl of rls) rl.off('line', onLine) }
    const onLine = (line: string) => { if (match(line)) { done(); resolve(line) } }
    const onExit = (code: number | null, signal: string | null) => { done(); reject(new Error(`${what}: exited (${code ?? signal}) before it was ready:\n${logs.text()}`)) }
    const timer = setTimeout(() => { done(); reject(new Error(`${what}: not ready after ${timeoutMs} ms:\n${logs.text()}`)) }, timeoutMs)
    for (const rl of rls) rl.on('line', onLine)
    child.on('exit', onExit)
  })

const capture = (child: ChildProcess, logs: LogTail) => {
  for (const s of [child.stdout, child.stderr]) if (s) readline.createInterface({ input: s }).on('line', l => logs.push(l))
}

const exitOf = (child: ChildProcess): Promise<void> => new Promise(resolve => {
  if (child.exitCode !== null || child.signalCode !== null) resolve()
  else child.once('exit', () => resolve())
})

export interface NodeOptions {
  databaseUrl: string
  redisUrl: string
  redisPrefix: string
  /** Shared by every node: the signing keys live here. */
  dataDir: string
  args?: string[]
  entry?: string[]
  env?: NodeJS.ProcessEnv
}

/** One server process of a cluster. `restart()` starts it again on the same port and data dir. */
export class ClusterNode {
  proc!: ChildProcess
  readonly logs = new LogTail()
  port = 0

  constructor (readonly name: string, private readonly opts: NodeOptions) {}

  get url () { return `http://127.0.0.1:${this.port}` }
  get wsUrl () { return `ws://127.0.0.1:${this.port}/sync` }
  get pid () { return this.proc.pid! }
  get running () { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  async start (): Promise<void> {
    if (this.port === 0) this.port = await freePort()
    const o = this.opts
    this.proc = spawn(process.execPath, [
      ...(o.entry ?? sourceEntry), '--host', '127.0.0.1', '--port', String(this.port), '--data-dir', o.dataDir,
      '--store', 'postgres', '--database-url', o.databaseUrl, '--redis-url', o.redisUrl, '--redis-prefix', o.redisPrefix,
      '--unload-grace-ms', '500', '--registrations-per-ip', '1000000', ...(o.args ?? [])
    ], { cwd: root, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    capture(this.proc, this.logs)
    // The JSON 'listening' line, or the human one on stderr when --log-level hides info lines.
    await waitForLine(this.proc, this.logs, line => line.includes('"msg":"listening"') || line.includes('session-sync is up'), `node ${this.name}`)
  }

  /** SIGKILL: no flush, no close frames, no goodbye to Redis or PostgreSQL. */
  async kill9 (): Promise<void> {
    if (!this.running) return
    this.proc.kill('SIGKILL')
    await exitOf(this.proc)
  }

  /** SIGTERM: the graceful shutdown path (flush, close 1001). */
  async stop (): Promise<void> {
    if (!this.running) return
    this.proc.kill('SIGTERM')
    const exited = exitOf(this.proc)
    const bound = setTimeout(() => this.proc.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(bound)
  }

  restart (): Promise<void> { return this.start() }

  /** Value of a plain Prometheus counter or gauge (no labels) on this node's /metrics. */
  async metric (name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text()
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)
    return m ? Number(m[1]) : NaN
  }
}

export interface ClusterOptions {
  nodes: number
  databaseUrl: string
  /** Default: the machine's Redis, under a key prefix of this cluster's own. */
  redisUrl?: string
  args?: string[]
  entry?: string[]
}

export interface Cluster {
  nodes: ClusterNode[]
  redisUrl: string
  redisPrefix: string
  dataDir: string
  /** Stops every node (SIGTERM, then SIGKILL) and removes this cluster's Redis keys. */
  stop(): Promise<void>
}

/**
 * N nodes on one database and one Redis prefix. The first node starts alone (it runs the migrations
 * and writes the signing key the others read from the shared data dir), the rest in parallel.
 */
export const startCluster = async (opts: ClusterOptions): Promise<Cluster> => {
  const dataDir = await fs.mkdtemp(path.join(tempRoot(), 'cluster-'))
  const redisUrl = opts.redisUrl ?? SHARED_REDIS_URL
  const redisPrefix = `sync-cluster:${process.pid}:${randomBytes(4).toString('hex')}:`
  const nodes = Array.from({ length: opts.nodes }, (_, i) => new ClusterNode(String.fromCharCode(65 + i), {
    databaseUrl: opts.databaseUrl, redisUrl, redisPrefix, dataDir, args: opts.args, entry: opts.entry
  }))
  const cluster: Cluster = {
    nodes, redisUrl, redisPrefix, dataDir,
    async stop () {
      await Promise.all(nodes.map(n => n.stop()))
      await dropRedisKeys(redisUrl, redisPrefix).catch(() => {})
    }
  }
  try {
    await nodes[0]!.start()
    await Promise.all(nodes.slice(1).map(n => n.start()))
  } catch (err) {
    await Promise.all(nodes.map(n => n.kill9()))
    throw err
  }
  return cluster
}

const dropRedisKeys = async (url: string, prefix: string) => {
  const redis = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
      if (cursor === '0') break
    }
  } finally {
    redis.disconnect()
  }
}

/** A Redis of the test's own (`redis-server --save ""`), for tests that stop and restart it. */
export class OwnRedis {
  proc!: ChildProcess
  readonly logs = new LogTail(500)
  port = 0
  get url () { return `redis://127.0.0.1:${this.port}` }

  async start (): Promise<void> {
    if (this.port === 0) this.port = await freePort()
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    capture(this.proc, this.logs)
    await waitForLine(this.proc, this.logs, line => line.includes('Ready to accept connections'), 'redis-server')
  }

  /** SIGKILL, as a crash: every stream it held is gone (no persistence). */
  async kill9 (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGKILL')
    await exitOf(this.proc)
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin'

/**
 * A PostgreSQL of the test's own: initdb into a temp dir and pg_ctl on a free port, as user postgres
 * (PostgreSQL refuses to run as root). `restart()` is a crash restart (`-m immediate`): the server
 * recovers from its WAL what it had committed.
 */
export class OwnPostgres {
  dir = ''
  port = 0
  get adminUrl () { return `postgres://postgres@127.0.0.1:${this.port}/postgres` }
  urlFor (db: string) { return `postgres://postgres@127.0.0.1:${this.port}/${db}` }

  private asPostgres (cmd: string, args: string[]) {
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args)
  }

  async init (): Promise<void> {
    this.dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sync-pg-'))
    await fs.chmod(this.dir, 0o755)
    if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', this.dir])
    this.port = await freePort()
    await this.asPostgres(`${PG_BIN}/initdb`, ['-D', path.join(this.dir, 'data'), '-U', 'postgres', '--auth', 'trust', '--no-sync', '-E', 'UTF8'])
    await this.start()
  }

  private ctl (...args: string[]) {
    return this.asPostgres(`${PG_BIN}/pg_ctl`, ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), ...args])
  }

  /** `-w`: pg_ctl returns once the server accepts connections. */
  start () {
    return this.ctl('start', '-w', '-t', '90', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`)
  }

  /** A crash: no checkpoint, every connection cut. */
  stopImmediate () { return this.ctl('stop', '-m', 'immediate', '-w') }

  async destroy (): Promise<void> {
    if (!this.dir) return
    await this.ctl('stop', '-m', 'immediate', '-w').catch(() => {})
    await fs.rm(this.dir, { recursive: true, force: true })
  }

  async createDatabase (name = `sync_${randomBytes(4).toString('hex')}`): Promise<string> {
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: this.adminUrl })
    await c.connect()
    try { await c.query(`CREATE DATABASE ${name}`) } finally { await c.end() }
    return this.urlFor(name)
  }
}
