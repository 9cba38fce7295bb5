import fs from 'node:fs/promises'
import { startServer, tempDir } from '../helpers/server.js'
import { createNodeClient, type NodeClientOptions } from '../../client/node.js'
import type { SyncClient } from '../../client/index.js'
import { PASSWORD } from '../helpers/identity.js'

export type Server = Awaited<ReturnType<typeof startServer>>

/** Tracks servers, clients and temp dirs of one test file and tears them down after each test. */
export const fixture = () => {
  const servers: Server[] = []
  const clients: SyncClient[] = []
  const dirs: string[] = []
  return {
    async server (o: Parameters<typeof startServer>[0] = {}) { const s = await startServer(o); servers.push(s); return s },
    async profileDir () { const d = await tempDir('sdk-profile-'); dirs.push(d); return d },
    async client (server: Server | string, o: Partial<NodeClientOptions> = {}) {
      const c = await createNodeClient({
        url: typeof server === 'string' ? server : server.url,
        device: { name: o.device?.name ?? 'test-device', platform: 'node' },
        profileDir: o.profileDir ?? await this.profileDir(),
        backoff: { baseMs: 50, maxMs: 500 },
        ...o
      })
      clients.push(c)
      return c
    },
    /** A client of a new account, registered and logged in through the SDK (identity servers only). */
    async signedIn (server: Server, o: Partial<NodeClientOptions> = {}, email = newEmail()) {
      const c = await this.client(server, o)
      await c.register(email, PASSWORD)
      await c.login(email, PASSWORD)
      return Object.assign(c, { email })
    },
    track (s: Server) { servers.push(s) },
    async cleanup () {
      for (const c of clients.splice(0)) await c.close().catch(() => {})
      for (const s of servers.splice(0)) await s.close().catch(() => {})
      for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true })
    }
  }
}

export const listDir = async (dir: string): Promise<string[]> => {
  try { return await fs.readdir(dir, { recursive: true }) } catch { return [] }
}

export { PASSWORD }

/** A server with identity on; rate limits lifted (every test logs in from 127.0.0.1). */
export const identityServer = (f: ReturnType<typeof fixture>, o: Parameters<ReturnType<typeof fixture>['server']>[0] = {}) =>
  f.server({ insecureNoAuth: false, loginAttemptsPerIp: 10_000, loginAttemptsPerAccount: 1000, ...o })

let emails = 0
export const newEmail = (tag = 'sdk') => `${tag}-${process.pid}-${Date.now()}-${emails++}@example.com`

/** Records every session event of a client, in order. */
export const watchSessionEvents = (c: SyncClient) => {
  const ev: string[] = []
  c.on('sessionEnded', e => ev.push(`ended:${e.reason}`))
  c.on('revoked', e => ev.push(`revoked:${e.reason}`))
  return ev
}
