import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import readline from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestDevice, PASSWORD, type Res } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'
import { SHARED_REDIS_URL } from './harness.js'
import { launchBrowser, watchConsole, type ProblemLog } from '../helpers/browser.js'

/**
 * `npm run cluster` (tools/cluster/run.ts) as a user runs it, nodes from source (--source: no build in
 * the test run): three nodes behind Debian's nginx with a self-signed certificate. The test trusts
 * that certificate, signs a device in and syncs a document through nginx, then stops it with SIGINT.
 */
const root = path.resolve(import.meta.dirname, '../..')
const db = useTestDatabase()
let script: ChildProcess
let origin = ''
let nodePorts: number[] = []
let ca: Buffer
const output: string[] = []
const clients: RawClient[] = []

beforeAll(async () => {
  const dir = await tempDir('npm-cluster-')
  script = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/cluster/run.ts'), '--source', '--port', '0', '--dir', dir,
    '--database-url', db.url, '--redis-url', SHARED_REDIS_URL, '--redis-prefix', `sync-npm-cluster:${randomBytes(4).toString('hex')}:`,
    '--', '--registrations-per-ip', '1000'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  script.stderr!.on('data', d => output.push(String(d)))
  const line = await new Promise<string>((resolve, reject) => {
    script.once('exit', code => reject(new Error(`npm run cluster exited (${code}): ${output.join('')}`)))
    readline.createInterface({ input: script.stdout! }).on('line', l => { output.push(l); if (l.includes('cluster is up')) resolve(l) })
  })
  origin = /(https:\/\/[^/ ]+)\//.exec(line)![1]!
  nodePorts = [...line.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1])).filter(p => !origin.endsWith(`:${p}`))
  ca = fs.readFileSync(path.join(dir, 'tls', 'cert.pem'))
}, 180_000)
afterAll(() => {
  for (const c of clients) c.ws.terminate()
  if (script?.exitCode === null) script.kill('SIGKILL')
})

/** A device whose HTTP calls go through nginx and trust the run's self-signed certificate. */
class TlsDevice extends TestDevice {
  override call<T> (method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const data = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const req = https.request(this.baseUrl + p, { method, ca, headers: { ...headers, ...(data ? { 'content-type': 'application/json' } : {}) } }, res => {
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: new Headers(res.headers as Record<string, string>) })
        })
      })
      req.on('error', reject)
      req.end(data)
    })
  }
}

const get = (url: string) => new Promise<{ status: number, body: string }>((resolve, reject) => {
  https.get(url, { ca }, res => { const c: Buffer[] = []; res.on('data', d => c.push(d)); res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(c).toString() })) }).on('error', reject)
})

describe('npm run cluster', () => {
  it('serves the demo and the API over TLS through nginx, and syncs a document across the nodes', async () => {
    expect(nodePorts).toHaveLength(3)
    const page = await get(`${origin}/`)
    expect(page.status).toBe(200)
    expect(page.body).toMatch(/<html/i)
    const device = await TlsDevice.create(origin, `u-${randomBytes(4).toString('hex')}@example.com`) as TlsDevice
    Object.setPrototypeOf(device, TlsDevice.prototype) // TestDevice.create constructs the base class
    expect((await device.register(PASSWORD)).status).toBe(201)
    expect((await device.login()).status).toBe(200)
    const { docName } = (await device.api('POST', '/docs', { title: 'Through nginx' })).body
    const wss = `${origin.replace('https', 'wss')}/sync/${docName}?token=${encodeURIComponent(device.tokens.accessToken)}`
    const sockets = [0, 1, 2].map(() => { const c = new RawClient(wss, { ca, origin }); clients.push(c); return c })
    await waitFor(() => sockets.every(s => s.synced), 10_000, 'three sockets synced through nginx')
    sockets[0]!.doc.getText('t').insert(0, 'hello')
    await waitFor(() => sockets.every(s => s.text() === 'hello'), 10_000, 'the edit on every socket')
    // Round robin: the sockets landed on more than one node.
    const perNode = await Promise.all(nodePorts.map(async p => {
      const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text()
      return Number(/^sync_connections (\d+)/m.exec(text)?.[1] ?? 0)
    }))
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(3)
    expect(perNode.filter(n => n > 0).length).toBeGreaterThan(1)
  })

  it('the demo app in Chromium signs up, creates a draft and syncs it through nginx', async () => {
    const browser = await launchBrowser()
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, serviceWorkers: 'block', viewport: { width: 1280, height: 800 } })
      context.setDefaultTimeout(30_000)
      const page = await context.newPage()
      const log: ProblemLog = { problems: [], network: [] }
      watchConsole(page, 'cluster', log)
      await page.goto(`${origin}/`)
      await page.getByRole('tab', { name: 'Create account' }).click()
      await page.fill('#auth-email', `b-${randomBytes(4).toString('hex')}@example.com`)
      await page.fill('#auth-password', PASSWORD)
      await page.fill('#auth-device', 'Browser')
      await page.getByRole('button', { name: 'Create account', exact: true }).click()
      await page.waitForSelector('.shell')
      await page.getByTestId('new-draft').click()
      await page.locator('#new-draft-title:focus').waitFor()
      await page.keyboard.type('Through the cluster')
      await page.keyboard.press('Enter')
      await page.waitForURL(/\/d\//)
      await page.locator('.cm-content').click()
      await page.keyboard.type('hello from chromium')
      await expect.poll(() => page.locator('.editor-head [data-testid="sync-status"]').getAttribute('data-status'), { timeout: 20_000 }).toBe('synced')
      // Service workers are blocked here (the offline shell is test/e2e's subject): the app says so.
      expect(log.problems.filter(p => !/Service Worker registration blocked/.test(p)).join('\n')).toBe('')
    } finally {
      await browser.close()
    }
  }, 120_000)

  it('Ctrl-C stops nginx and every node', async () => {
    for (const c of clients.splice(0)) c.ws.terminate()
    const exited = new Promise<number | null>(resolve => script.once('exit', code => resolve(code)))
    script.kill('SIGINT')
    expect(await exited).toBe(0)
    for (const p of [...nodePorts, Number(new URL(origin).port)]) {
      await expect(fetch(`http://127.0.0.1:${p}/healthz`)).rejects.toThrow()
    }
  }, 60_000)
})
