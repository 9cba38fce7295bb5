import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildServerBundle } from '../../server/build.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir } from '../helpers/server.js'
import { signedInDevice } from '../helpers/identity.js'

// `npm start` bundles the server (server/build.ts → build/server.js) and runs it with plain node.
const root = path.resolve(import.meta.dirname, '../..')
const children: ChildServer[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

describe('the bundled server (what npm start runs)', () => {
  let bundle = ''
  beforeAll(async () => {
    bundle = await buildServerBundle()
  }, 120_000)

  it('is one file that leaves the native addons to node_modules', () => {
    const text = fs.readFileSync(bundle, 'utf8')
    expect(text).toMatch(/from\s*"level"/)
    expect(text).toMatch(/from\s*"@node-rs\/argon2"/)
    expect(text).not.toMatch(/from\s*"\.\.?\//)
  })

  it('starts with identity on, answers, and serves the repository\'s demo app from build/', async () => {
    const server = await startChildServer(['--data-dir', await tempDir(), '--log-level', 'info'], {}, [bundle])
    children.push(server)
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({ status: 'ok' })
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json() as { keys: unknown[] }
    expect(jwks.keys).toHaveLength(1)
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toBe(fs.readFileSync(path.join(root, 'demo/dist/index.html'), 'utf8'))
  })

  it('signs a device in, rate-limits failed logins and serves metrics (modules the bundle trims, server/build.ts)', async () => {
    const server = await startChildServer(['--data-dir', await tempDir(), '--login-attempts-per-account', '2'], {}, [bundle])
    children.push(server)
    const device = await signedInDevice(server.url)
    expect(device.tokens.accessToken).toEqual(expect.any(String))
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await device.login('not the password at all')).status)
    expect(statuses).toEqual([401, 401, 429])
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/^process_cpu_user_seconds_total \d/m)
  })

  it('runs the key rotation command', async () => {
    const { execFile } = await import('node:child_process')
    const dir = await tempDir()
    const run = () => new Promise<string>((resolve, reject) => execFile(process.execPath, [bundle, 'keys:rotate', '--data-dir', dir], (err, out) => err ? reject(err) : resolve(out)))
    expect(JSON.parse(await run())).toMatchObject({ added: expect.any(String) })
  })
})
