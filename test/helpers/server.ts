import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'
import { createApp, type App, type AppOptions } from '../../server/app.js'
import { loadConfig, type ServerConfig } from '../../server/config.js'
import { createLogger } from '../../server/observe/logger.js'
import { RawClient } from './raw-client.js'

/** Below the run's temp root (test/helpers/global-setup.ts), removed when the run ends. */
export const tempDir = (prefix = 'sync-test-') => fs.mkdtemp(path.join(process.env.SYNC_TEST_TMP ?? os.tmpdir(), prefix))

/**
 * A real server on 127.0.0.1 with a real LevelDB in a temp dir. Every user a test registers comes
 * from 127.0.0.1, so the per-IP registration budget is lifted (identity-limits.test.ts sets it).
 */
export const startServer = async (overrides: Partial<ServerConfig> = {}, opts: AppOptions = {}): Promise<App & { wsUrl: string, config: ServerConfig }> => {
  const config = { ...loadConfig([], {}), port: 0, insecureNoAuth: true, logLevel: 'silent', dataDir: await tempDir(), unloadGraceMs: 200, registrationsPerIp: 1_000_000, ...overrides }
  const app = await createApp(config, { logger: createLogger(config.logLevel), ...opts })
  await app.listen()
  return Object.assign(app, { wsUrl: app.url.replace('http', 'ws') + '/sync', config })
}

/** The least time `waitFor` gives a condition: enough for a loaded 2-core machine. */
const WAIT_FLOOR_MS = 20_000

/**
 * Polls `cond` until it holds. The timeout only bounds how long a failing test hangs; it is no
 * assertion about speed, so it is never below WAIT_FLOOR_MS. Tests where time is the subject
 * measure it themselves.
 */
export const waitFor = async (cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_FLOOR_MS, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + Math.max(timeoutMs, WAIT_FLOOR_MS)
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 10))
  }
}

/**
 * For a test file: `start` a server and open `raw` clients; after each test the clients and whatever
 * was registered with `onCleanup` (other clients) are closed first, so no server waits on a socket.
 */
export const serverFixtures = () => {
  const servers: Array<Awaited<ReturnType<typeof startServer>>> = []
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c()
    for (const s of servers.splice(0)) await s.close()
  })
  const onCleanup = (fn: () => unknown) => { cleanups.push(fn) }
  return {
    start: async (overrides: Partial<ServerConfig> = {}) => { const s = await startServer(overrides); servers.push(s); return s },
    raw: (url: string) => { const c = new RawClient(url); onCleanup(() => c.ws.terminate()); return c },
    onCleanup
  }
}
