/**
 * `npm run cluster`: a local cluster as deploy/ describes it. Builds the server and the demo, creates
 * the database if it is missing, makes a self-signed TLS certificate, starts N nodes (--store postgres,
 * --redis-url, --trusted-proxies 1) and Debian's nginx in front of them (deploy/nginx.conf), and prints
 * the https URL. Ctrl-C (or SIGTERM) stops everything it started.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { parseArgs } from 'node:util'
import pg from 'pg'

const root = path.resolve(import.meta.dirname, '../..')

const HELP = `Usage: npm run cluster -- [options]

  --nodes N             server processes (default 3)
  --port P              HTTPS port of nginx on --host (default 8443; 0 = any free port)
  --host H              address nginx listens on and the URL's host (default 127.0.0.1)
  --database-url URL    PostgreSQL database; created if missing (default postgres://postgres@127.0.0.1:5432/session_sync)
  --redis-url URL       Redis (default redis://127.0.0.1:6379)
  --redis-prefix P      prefix of this cluster's Redis keys (default sync:)
  --dir DIR             signing keys, certificate, nginx config and logs (default ./cluster-data)
  --source              run the nodes from source under tsx instead of building (development)
  --nginx PATH          nginx binary (default /usr/sbin/nginx)
  -- ARGS               further options for every node (see npm start -- --help)`

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nodes: { type: 'string', default: '3' }, port: { type: 'string', default: '8443' }, host: { type: 'string', default: '127.0.0.1' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/session_sync' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' }, 'redis-prefix': { type: 'string', default: 'sync:' },
    dir: { type: 'string', default: './cluster-data' }, source: { type: 'boolean', default: false },
    nginx: { type: 'string', default: '/usr/sbin/nginx' }, help: { type: 'boolean', default: false }
  }
})
if (v.help) { console.log(HELP); process.exit(0) }

const say = (line: string) => process.stderr.write(`[cluster] ${line}\n`)
const dir = path.resolve(v.dir)
const children: Array<{ name: string, proc: ChildProcess }> = []
let stopping = false

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const srv = net.createServer()
  srv.once('error', reject)
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address() as net.AddressInfo; srv.close(() => resolve(port)) })
})

/** Creates the database of `url` unless it exists (connecting to the server's `postgres` database). */
const ensureDatabase = async (url: string) => {
  const u = new URL(url)
  const name = decodeURIComponent(u.pathname.slice(1))
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`database name ${JSON.stringify(name)}: use letters, digits and _`)
  u.pathname = '/postgres'
  const client = new pg.Client({ connectionString: u.toString() })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount === 0) { await client.query(`CREATE DATABASE "${name}"`); say(`created database ${name}`) }
  } finally {
    await client.end()
  }
}

/** A self-signed certificate for `host`, made at each start (valid 30 days). */
const makeCertificate = (host: string) => {
  const tls = path.join(dir, 'tls')
  fs.mkdirSync(tls, { recursive: true, mode: 0o700 })
  const san = net.isIP(host) ? `IP:${host}` : `DNS:${host}`
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
    '-subj', `/CN=${host}`, '-addext', `subjectAltName=${san},DNS:localhost`, '-keyout', path.join(tls, 'key.pem'), '-out', path.join(tls, 'cert.pem')], { stdio: 'ignore' })
  fs.chmodSync(path.join(tls, 'key.pem'), 0o600)
  return { cert: path.join(tls, 'cert.pem'), key: path.join(tls, 'key.pem') }
}

/** deploy/nginx.conf with this run's node ports, listen address, certificate and writable paths. */
const localNginxConf = (template: string, o: { nodePorts: number[], listen: string, cert: string, key: string, dir: string }): string => {
  const upstreams = o.nodePorts.map(p => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')
  const out = template
    .replace(/^ {4}server node\d:4321 .*\n(?: {4}server node\d:4321 .*\n)*/m, upstreams + '\n')
    .replace(/^ {4}listen 443 ssl;$/m, `    listen ${o.listen} ssl;`)
    .replace('/etc/nginx/tls/cert.pem', o.cert)
    .replace('/etc/nginx/tls/key.pem', o.key)
    .replaceAll('/tmp/session-sync-nginx', path.join(o.dir, 'nginx'))
  if (out.includes('node1:4321') || !out.includes(`listen ${o.listen} ssl;`)) throw new Error('deploy/nginx.conf no longer has the lines tools/cluster/run.ts rewrites')
  return out
}

/** Resolves with the first line `match` accepts; rejects if the process exits first. */
const waitForLine = (proc: ChildProcess, name: string, match: (line: string) => boolean): Promise<void> => new Promise((resolve, reject) => {
  const onExit = (code: number | null) => reject(new Error(`${name} exited (${code}) before it was ready; see ${path.join(dir, 'logs', `${name}.log`)}`))
  proc.once('exit', onExit)
  readline.createInterface({ input: proc.stdout! }).on('line', line => { if (match(line)) { proc.off('exit', onExit); resolve() } })
})

const startProcess = (name: string, cmd: string, args: string[]) => {
  const log = fs.createWriteStream(path.join(dir, 'logs', `${name}.log`), { flags: 'a' })
  const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  proc.stdout!.pipe(log)
  proc.stderr!.pipe(log)
  children.push({ name, proc })
  proc.on('exit', (code, signal) => { if (!stopping) say(`${name} exited (${code ?? signal}); see ${path.join(dir, 'logs', `${name}.log`)}`) })
  return proc
}

const stopAll = async (why: string) => {
  if (stopping) return
  stopping = true
  say(`stopping (${why})`)
  const running = children.filter(c => c.proc.exitCode === null && c.proc.signalCode === null)
  await Promise.all(running.map(c => new Promise<void>(resolve => {
    const force = setTimeout(() => c.proc.kill('SIGKILL'), 15_000)
    c.proc.once('exit', () => { clearTimeout(force); resolve() })
    c.proc.kill(c.name === 'nginx' ? 'SIGQUIT' : 'SIGTERM')
  })))
  say('stopped')
}

const main = async () => {
  const nodes = Number(v.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error('--nodes must be 1..16')
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'nginx'), { recursive: true })
  if (!v.source) {
    say('building the demo and the server')
    execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'demo/build.ts')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  await ensureDatabase(v['database-url'])
  const { cert, key } = makeCertificate(v.host)
  const port = Number(v.port) === 0 ? await freePort() : Number(v.port)
  const origin = `https://${net.isIPv6(v.host) ? `[${v.host}]` : v.host}:${port}`
  const entry = v.source ? ['--import', 'tsx', path.join(root, 'server/main.ts')] : [path.join(root, 'build/server/main.js')]
  const nodeArgs = (p: number) => [...entry, '--host', '127.0.0.1', '--port', String(p), '--data-dir', path.join(dir, 'data'),
    '--store', 'postgres', '--database-url', v['database-url'], '--redis-url', v['redis-url'], '--redis-prefix', v['redis-prefix'],
    '--trusted-proxies', '1', '--public-url', origin, ...positionals]
  const nodePorts = await Promise.all(Array.from({ length: nodes }, () => freePort()))
  const listening = (line: string) => line.includes('"msg":"listening"')
  // The first node alone: it runs the migrations and writes the signing key the others read.
  await waitForLine(startProcess('node1', process.execPath, nodeArgs(nodePorts[0]!)), 'node1', listening)
  await Promise.all(nodePorts.slice(1).map((p, i) => waitForLine(startProcess(`node${i + 2}`, process.execPath, nodeArgs(p)), `node${i + 2}`, listening)))
  const conf = path.join(dir, 'nginx', 'nginx.conf')
  fs.writeFileSync(conf, localNginxConf(fs.readFileSync(path.join(root, 'deploy/nginx.conf'), 'utf8'), { nodePorts, listen: `${v.host}:${port}`, cert, key, dir }))
  execFileSync(v.nginx, ['-t', '-p', path.join(dir, 'nginx'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  const nginx = startProcess('nginx', v.nginx, ['-p', path.join(dir, 'nginx'), '-c', conf, '-g', 'daemon off;'])
  // nginx says nothing when it is up: ready once its port accepts a connection.
  for (let i = 0; ; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}); see ${path.join(dir, 'logs', 'nginx.log')}`)
    const ok = await new Promise<boolean>(resolve => { const s = net.connect(port, v.host, () => { s.end(); resolve(true) }).once('error', () => resolve(false)) })
    if (ok) break
    if (i > 300) throw new Error('nginx did not open its port')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  console.log(`session-sync cluster is up: ${origin}/ (${nodes} nodes on ${nodePorts.map(p => `127.0.0.1:${p}`).join(', ')}; self-signed certificate ${cert}; logs in ${path.join(dir, 'logs')})`)
  say('Ctrl-C stops everything')
}

process.on('SIGINT', () => { void stopAll('SIGINT').then(() => process.exit(0)) })
process.on('SIGTERM', () => { void stopAll('SIGTERM').then(() => process.exit(0)) })
main().catch(async (err: Error) => {
  say(`error: ${err.message}`)
  await stopAll('error')
  process.exit(1)
})
