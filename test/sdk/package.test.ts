import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/server.js'
import { fixture, identityServer, newEmail, PASSWORD } from './helpers.js'

// The SDK as an outside project gets it: `npm pack` of client/ (its prepack builds dist/), installed
// from the tarball into a temp project, imported by package name from a plain Node ESM script that
// signs in to a real server, and type-checked through the package's `exports`.
const f = fixture()
afterEach(() => f.cleanup())

const ROOT = path.resolve(import.meta.dirname, '../..')
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')

/** Runs a command without blocking this process (the server under test lives in it); resolves its stdout. */
const run = (cmd: string, args: string[], cwd: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (c: Buffer) => { out += c.toString() })
    p.stderr.on('data', (c: Buffer) => { err += c.toString() })
    p.on('error', reject)
    p.on('close', code => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}\n${err}`))))
  })

/** Two devices of one account: A edits the session state, B sees it. Prints what B saw. */
const CONSUMER = `
import { createNodeClient, SyncClient } from '@session-sync/client/node'
import * as neutral from '@session-sync/client'
import { createBrowserClient } from '@session-sync/client/browser'

const [url, dir, email, password] = process.argv.slice(2)
const guard = setTimeout(() => { console.error('timed out'); process.exit(2) }, 30_000)
const device = name => createNodeClient({ url, profileDir: dir + '/' + name, device: { name, platform: 'node' } })
const a = await device('a')
await a.register(email, password)
const login = await a.login(email, password)
const b = await device('b')
await b.login(email, password)
const sa = await a.openSessionState()
const sb = await b.openSessionState()
const seen = () => sb.state.getPreference('theme') === 'dark' && sb.state.listTasks().length === 1
const arrived = new Promise(resolve => {
  const check = () => { if (seen()) { sb.handle.doc.off('update', check); resolve() } }
  sb.handle.doc.on('update', check)
  check()
})
sa.state.setPreference('theme', 'dark')
sa.state.addTask('ship the package')
await arrived
// Status 'synced' says the socket caught up; hasUnsyncedChanges says the server confirmed our edits.
if (sa.handle.hasUnsyncedChanges) await new Promise(resolve => sa.handle.on('unsyncedChanges', dirty => { if (!dirty) resolve() }))
console.log(JSON.stringify({
  mfaRequired: login.mfaRequired,
  theme: sb.state.getPreference('theme'),
  tasks: sb.state.listTasks().map(t => t.title),
  unsynced: sa.handle.hasUnsyncedChanges,
  oneClass: neutral.SyncClient === SyncClient && a instanceof neutral.SyncClient,
  browserEntry: typeof createBrowserClient
}))
await a.close()
await b.close()
clearTimeout(guard)
`

/** Compiles against the package's declarations only: a missing or wrong `types` mapping fails. */
const CHECK = `
import { createNodeClient, type NodeClientOptions } from '@session-sync/client/node'
import { createBrowserClient, type BrowserClientOptions } from '@session-sync/client/browser'
import { ApiRequestError, SessionState, type SyncClient, type SyncStatus, type SessionEndReason } from '@session-sync/client'
import * as Y from 'yjs'

const opts: NodeClientOptions = { url: 'http://127.0.0.1:1', profileDir: '/tmp/p', device: { name: 'n', platform: 'node' } }
const client: Promise<SyncClient> = createNodeClient(opts)
const browserOpts: BrowserClientOptions = { url: 'https://example.com', device: { name: 'web', platform: 'web' } }
void createBrowserClient
// @ts-expect-error profileDir is required
void createNodeClient({ url: 'x', device: { name: 'n', platform: 'node' } })
const status: SyncStatus = 'synced'
const reason: SessionEndReason = 'signed_out_elsewhere'
const err: unknown = null
if (err instanceof ApiRequestError) { const code: string = err.code; void code }
interface Prefs { theme: 'light' | 'dark', fontSize: number }
const state = new SessionState<Prefs>(new Y.Doc(), { deviceId: 'd', deviceName: 'n' })
state.setPreference('theme', 'dark')
// @ts-expect-error not a theme
state.setPreference('theme', 'blue')
const size: number | undefined = state.getPreference('fontSize')
export { client, browserOpts, status, reason, size }
`

describe('sdk package', () => {
  it('packs, installs into an outside project, and syncs from a Node script importing it by name', async () => {
    const s = await identityServer(f)
    const work = await tempDir('sdk-package-')
    const packOut = await run('npm', ['pack', '--pack-destination', work, '--json'], path.join(ROOT, 'client'))
    // stdout holds the build's output (prepack) and then the JSON report.
    const tarball = (JSON.parse(packOut.slice(packOut.lastIndexOf('\n[') + 1)) as Array<{ filename: string, files: Array<{ path: string }> }>)[0]!
    const files = tarball.files.map(x => x.path)
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/client/index.js', 'dist/client/index.d.ts',
      'dist/client/node.js', 'dist/client/browser.js', 'dist/shared/protocol.js', 'dist/shared/dpop.js']))
    expect(files.filter(p => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([])

    const proj = path.join(work, 'consumer')
    await fs.mkdir(proj)
    await fs.writeFile(path.join(proj, 'package.json'), JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      dependencies: { '@session-sync/client': `file:../${tarball.filename}`, ws: '^8.23.0', level: '^10.0.0', yjs: '^13.6.33' }
    }))
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], proj)
    // Installed, not linked: nothing resolves back into this repository.
    expect((await fs.lstat(path.join(proj, 'node_modules/@session-sync/client'))).isSymbolicLink()).toBe(false)

    await fs.writeFile(path.join(proj, 'main.mjs'), CONSUMER)
    await fs.writeFile(path.join(proj, 'check.ts'), CHECK)
    await fs.writeFile(path.join(proj, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2022', 'DOM'], types: [] },
      files: ['check.ts']
    }))
    const [out] = await Promise.all([
      run('node', ['main.mjs', s.url, path.join(work, 'profiles'), newEmail('pkg'), PASSWORD], proj),
      run('node', [TSC, '-p', 'tsconfig.json'], proj)
    ])
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      mfaRequired: false, theme: 'dark', tasks: ['ship the package'], unsynced: false, oneClass: true, browserEntry: 'function'
    })
  }, 180_000)
})
