import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, waitFor } from '../../../test/helpers/server.js'
import { SimDevice } from '../device.js'
import { RunStats } from '../run-stats.js'
import path from 'node:path'
import { runLoad } from '../run.js'
import { runInProcesses } from '../processes.js'
import type { ScenarioName } from '../scenarios.js'
import type { FleetOptions } from '../fleet.js'
import { formatReport, type LoadReport } from '../report.js'
import { execFile } from 'node:child_process'

type Server = Awaited<ReturnType<typeof startServer>>
let server: Server
// Identity on (the default deployment): devices register, log in with their own keys and refresh.
beforeAll(async () => { server = await startServer({ unloadGraceMs: 300, insecureNoAuth: false, accessTokenTtlMs: 2500 }) })
afterAll(async () => { await server.close() })

const run = (scenario: ScenarioName, fleet: Partial<FleetOptions>, o: { seconds?: number, rate?: number, offlineEdits?: number, history?: number, unloadWaitSeconds?: number } = {}) => runLoad({
  scenario,
  serverPid: null,
  fleet: { target: server.url, users: 5, devicesPerUser: 3, mode: 'full', auth: 'api', runId: Math.random().toString(36).slice(2, 8), loginConcurrency: 4, ...fleet },
  scenarioOptions: { seconds: 2, rate: 10, offlineEdits: 5, history: 2000, unloadWaitSeconds: 0, connectBatch: 50, deadline: Date.now() + 150_000, onProgress: () => {}, ...o }
})

// Logins (password hashing) and 15 devices' sockets are slow on a loaded 2-core machine: the bounds are wide.
describe('load tool against a real local server (small)', { timeout: 180_000 }, () => {
  it('steady: every edit reaches every other device; latency measured', async () => {
    const r = await run('steady', {})
    expect(r.editsSent).toBeGreaterThan(200)
    expect(r.convergence).toMatchObject({ lostEdits: 0, unreadableUsers: 0, divergedDevices: 0 })
    expect(r.convergence.editsMade).toBe(r.editsSent)
    // each edit goes to the 2 other devices of its user
    expect(r.delivered).toBeGreaterThan(r.editsSent * 2 * 0.9)
    expect(r.latencyMs.count).toBe(r.delivered)
  })

  it('storm: offline edits on every device converge after a simultaneous reconnect', async () => {
    const r = await run('storm', { users: 20, devicesPerUser: 3, mode: 'light' }, { offlineEdits: 5 })
    expect(r.editsSent).toBe(20 * 3 * 5)
    expect(r.convergence).toMatchObject({ lostEdits: 0, unreadableUsers: 0, divergedDevices: 0, editsMade: 300 })
    expect(r.extra.convergeSeconds).toBeGreaterThan(0)
  })

  it('churn: short-lived tokens keep devices refreshing and reconnecting mid-edit; nothing is lost', async () => {
    // A 2.5-s token expires by 3.5 s (JWT times are whole seconds), and the socket is told within the
    // expiry clock's second after that: 6 s leaves room for a loaded machine to see the first wave of 4401s.
    const r = await run('churn', { users: 4, devicesPerUser: 2, mode: 'light' }, { seconds: 6, rate: 5 })
    expect(r.refreshes).toBeGreaterThan(8)
    expect(r.reconnects).toBeGreaterThan(0)
    expect(r.convergence).toMatchObject({ lostEdits: 0, unreadableUsers: 0, divergedDevices: 0 })
    expect(r.signedOut).toBe(0)
  })

  it('steady outlives the access token: devices renew in-band before expiry, as the SDK does, and never reconnect', async () => {
    // 4-s tokens (renewed 1 s before expiry: slack for a loaded CI machine), run for over twice their
    // lifetime: every device refreshes at least twice and sends each new token on its open socket;
    // the server must not close a single socket with 4401.
    const own = await startServer({ insecureNoAuth: false, accessTokenTtlMs: 4000 })
    const r = await runLoad({
      scenario: 'steady', serverPid: null,
      fleet: { target: own.url, users: 4, devicesPerUser: 2, mode: 'light', auth: 'api', runId: Math.random().toString(36).slice(2, 8), loginConcurrency: 4 },
      scenarioOptions: { seconds: 9, rate: 5, offlineEdits: 0, history: 0, unloadWaitSeconds: 0, connectBatch: 50, deadline: Date.now() + 150_000, onProgress: () => {} }
    }).finally(() => own.close())
    expect(r.refreshes).toBeGreaterThanOrEqual(8 * 2)
    expect(r.closes).toEqual({})
    expect(r.reconnects).toBe(0)
    expect(r.convergence).toMatchObject({ lostEdits: 0, unreadableUsers: 0, divergedDevices: 0 })
    expect(r.signedOut).toBe(0)
  }, 180_000)

  it('steady over 2 generator processes (--processes): each drives its own users, the report counts both', async () => {
    const runId = Math.random().toString(36).slice(2, 8)
    const started = performance.now()
    const r = await runInProcesses(2, {
      scenario: 'steady', serverPid: process.pid, // any live pid: the parent's own measurement is what is checked
      fleet: { target: server.url, users: 5, devicesPerUser: 3, mode: 'light', auth: 'api', runId, loginConcurrency: 4 },
      scenarioOptions: { seconds: 2, rate: 10, offlineEdits: 0, history: 0, unloadWaitSeconds: 0, connectBatch: 50, deadline: Date.now() + 150_000, onProgress: () => {} }
    }, path.resolve(import.meta.dirname, '../cli.ts'), ['--import', 'tsx'])
    expect(r.users).toBe(5)
    expect(r.devices).toBe(15)
    expect(r.logins).toBe(15) // every device logged in, in one process or the other
    expect(r.editsSent).toBeGreaterThan(200)
    expect(r.convergence).toMatchObject({ users: 5, devices: 15, lostEdits: 0, unreadableUsers: 0, divergedDevices: 0, editsMade: r.editsSent })
    expect(r.latencyMs.count).toBe(r.delivered)
    expect(r.delivered).toBeGreaterThan(r.editsSent * 2 * 0.9)
    expect(r.server).not.toBeNull()
    // The server here is this process: its main thread ran while it served the run, and the report says so.
    // (15 logins and ~600 deliveries take it ~100 ms here; the bar only has to tell "measured" from 0.)
    expect(r.server!.main!.runMs).toBeGreaterThan(20)
    const wallMs = performance.now() - started
    const { runMs, waitMs } = r.server!.main!
    // A thread is running, waiting for a CPU, or asleep: both shares fit in the run's wall time.
    expect(Number.isFinite(waitMs)).toBe(true)
    expect(runMs + waitMs).toBeLessThan(wallMs + 1)
    expect(formatReport(r)).toMatch(/server main thread +ran \d+\.\d\d s, waited for a CPU \d+\.\d\d s/)
  }, 180_000)

  it('the CLI exits 0 on a clean run, and 1 with the lost edit named when a device drops one on purpose (--drop-edits)', async () => {
    const cli = path.resolve(import.meta.dirname, '../cli.ts')
    const runCli = (extra: string[]) => new Promise<{ code: number | null, report: LoadReport }>((resolve, reject) => {
      const args = ['--import', 'tsx', cli, '--target', server.url, '--scenario', 'steady', '--users', '3', '--devices', '2', '--rate', '5', '--seconds', '1', '--json', ...extra]
      execFile(process.execPath, args, { cwd: path.resolve(import.meta.dirname, '../../..'), timeout: 150_000 }, (err, stdout) => {
        if (err && typeof err.code !== 'number') return reject(err)
        resolve({ code: err ? err.code as number : 0, report: JSON.parse(stdout) as LoadReport })
      })
    })
    const clean = await runCli([])
    expect(clean.code).toBe(0)
    expect(clean.report.convergence).toMatchObject({ lostEdits: 0, divergedDevices: 0 })
    const dropped = await runCli(['--drop-edits', '1'])
    expect(dropped.code).toBe(1)
    // The one dropped edit is lost: neither the server nor the other device of its user holds it.
    expect(dropped.report.convergence).toMatchObject({ lostEdits: 1, divergedDevices: 1 })
    expect(dropped.report.convergence.examples.join()).toMatch(/lost u0\.d0\.\d+/)
  }, 300_000)

  it('coldload: a fresh device gets the whole history from storage', async () => {
    const r = await run('coldload', { users: 1, devicesPerUser: 2 }, { history: 3000, unloadWaitSeconds: 1 })
    expect(r.extra.coldLoadChars).toBe(3000)
    expect(r.convergence).toMatchObject({ lostEdits: 0, unreadableUsers: 0 })
  })
})

describe('a reconnecting light device', () => {
  it('asks only for what it lacks, as a real device does, not for the whole document', async () => {
    const s = await startServer()
    const stats = new RunStats()
    const docName = `held-${Math.random().toString(36).slice(2, 8)}`
    const [a, b] = ['u.a', 'u.b'].map(deviceId => new SimDevice({ syncUrl: s.wsUrl, docName, userId: 'u', deviceId, mode: 'light', stats }))
    try {
      await a!.connect()
      await b!.connect()
      for (let i = 0; i < 200; i++) b!.edit()
      await waitFor(() => a!.seen.size === 200, 5000, 'live edits')
      a!.disconnect()
      for (let i = 0; i < 3; i++) b!.edit()
      // A third device (its own counters) tells when the server holds all 203.
      const c = new SimDevice({ syncUrl: s.wsUrl, docName, userId: 'u', deviceId: 'u.c', mode: 'light', stats: new RunStats() })
      await waitFor(async () => { await c.connect(); const n = c.seen.size; c.disconnect(); return n === 203 }, 5000, 'the server to hold every edit')
      const before = { count: stats.syncStep2, bytes: stats.syncStep2Bytes }
      await a!.connect()
      expect(stats.syncStep2 - before.count).toBe(1)
      expect(a!.seen.size).toBe(203)
      // The 3 edits it missed (about 50 bytes each), not the whole document (203 edits, 9 KB).
      expect(stats.syncStep2Bytes - before.bytes).toBeLessThan(600)
    } finally {
      a!.disconnect()
      b!.disconnect()
      await s.close()
    }
  })
})
