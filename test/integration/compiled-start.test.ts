import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { promisify } from 'node:util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'
import { signedInDevice } from '../helpers/identity.js'

/**
 * `npm start` runs the server as tsc compiles it (tsconfig.build.json → build/server/main.js) under plain
 * node: the same modules the tests import, with stock yjs and lib0 from node_modules.
 */
const root = path.resolve(import.meta.dirname, '../..')
const ENTRY = path.join(root, 'build/server/main.js')
const run = promisify(execFile)
const children: ChildServer[] = []
const groups: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL')
  // npm runs the server through a shell: the test started that process group, and ends it.
  for (const g of groups.splice(0)) if (g.exitCode === null && g.signalCode === null) process.kill(-g.pid!, 'SIGKILL')
})

describe('the compiled server (what npm start runs)', () => {
  beforeAll(async () => {
    await run('npm', ['run', 'build', '--silent'], { cwd: root })
  }, 300_000) // tsc on a loaded 2-core machine

  it('npm start builds what it needs and serves the demo, /healthz and identity, with identity on by default', async () => {
    const dataDir = await tempDir()
    const proc = spawn('npm', ['start', '--silent', '--', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir], {
      cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' }
    })
    groups.push(proc)
    const output: string[] = []
    proc.stderr!.on('data', d => output.push(String(d)))
    const url = await new Promise<string>((resolve, reject) => {
      proc.on('exit', code => reject(new Error(`npm start exited with ${code}: ${output.join('')}`)))
      readline.createInterface({ input: proc.stdout! }).on('line', line => {
        output.push(line)
        try {
          const entry = JSON.parse(line) as { msg?: string, url?: string }
          if (entry.msg === 'listening' && entry.url) resolve(entry.url)
        } catch { /* a build line */ }
      })
    })
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok' })
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toBe(fs.readFileSync(path.join(root, 'demo/dist/index.html'), 'utf8'))
    const jwks = await (await fetch(`${url}/.well-known/jwks.json`)).json() as { keys: unknown[] }
    expect(jwks.keys).toHaveLength(1)
    expect(fs.existsSync(ENTRY)).toBe(true)
  }, 300_000)

  it('signs a device in, rate-limits failed logins and serves metrics', async () => {
    const server = await startChildServer(['--data-dir', await tempDir(), '--login-attempts-per-account', '2'], {}, [ENTRY])
    children.push(server)
    const device = await signedInDevice(server.url)
    expect(device.tokens.accessToken).toEqual(expect.any(String))
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await device.login('not the password at all')).status)
    expect(statuses).toEqual([401, 401, 429])
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^process_cpu_user_seconds_total \d/m)
  })

  it('compacts in its merge worker (build/server/yjs/merge-worker.js)', async () => {
    const server = await startChildServer(['--data-dir', await tempDir(), '--insecure-no-auth', '--compact-entries', '20'], {}, [ENTRY])
    children.push(server)
    const writer = new RawClient(`${server.wsUrl}/compiled`)
    await waitFor(() => writer.synced)
    const map = writer.doc.getMap<number>('m')
    for (let i = 0; i < 60; i++) { map.set(`k${i}`, i); if (i % 5 === 4) await new Promise(resolve => setTimeout(resolve, 1)) }
    const compactions = async () => Number(/^sync_compactions_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0)
    await waitFor(async () => (await compactions()) >= 1, 20_000, 'a compaction')
    const reader = new RawClient(`${server.wsUrl}/compiled`)
    await waitFor(() => reader.synced && reader.doc.getMap('m').size === 60, 5000, 'a device to sync everything')
    writer.ws.terminate(); reader.ws.terminate()
    expect(server.logs.join('\n')).not.toMatch(/merge worker failed|compaction failed/)
  })

  it('runs the key rotation command', async () => {
    const dir = await tempDir()
    const { stdout } = await run(process.execPath, [ENTRY, 'keys:rotate', '--data-dir', dir])
    expect(JSON.parse(stdout)).toMatchObject({ added: expect.any(String) })
  })
})
