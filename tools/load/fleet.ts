import { SimDevice } from './device.js'
import { DeviceCredentials, registerUser } from './auth.js'
import type { RunStats } from './run-stats.js'

export interface FleetOptions {
  /** `http://host:port` of the deployment: logins, refreshes and (without `urls`) sync sockets. */
  target: string
  /**
   * Nodes of a cluster (`http://host:port` each): device k opens its socket on node k mod N and fails
   * over to the following nodes in turn. HTTP calls still go to `target`.
   */
  urls?: string[]
  users: number
  devicesPerUser: number
  mode: 'light' | 'full'
  /** `api`: register + log in every device through the HTTP API; `none`: server runs without auth. */
  auth: 'api' | 'none'
  runId: string
  /** Parallel logins (password hashing is the server's costliest request). */
  loginConcurrency: number
  /**
   * Refresh access tokens before they expire and renew open sockets in-band, as the SDK does
   * (default). `false` (the churn scenario): sockets are closed at expiry and devices reconnect.
   */
  renewInBand?: boolean
}

export interface SimUser { userId: string, docName: string, devices: SimDevice[], credentials: DeviceCredentials[] }

const PASSWORD = 'load-test-Pa55word!'

/** Run `fn` over `items` with at most `limit` in flight. */
export const pool = async <T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> => {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!)
  }))
}

/** Users and their devices, each device logged in with its own key (auth `api`). Nothing connects yet. */
export const createFleet = async (opts: FleetOptions, stats: RunStats): Promise<SimUser[]> => {
  const syncUrls = (opts.urls?.length ? opts.urls : [opts.target]).map(u => u.replace(/^http/, 'ws') + '/sync')
  let k = 0
  const users: SimUser[] = Array.from({ length: opts.users }, (_, i) => ({ userId: `u${i}`, docName: `load-${opts.runId}-u${i}`, devices: [], credentials: [] }))
  if (opts.auth === 'api') {
    await pool(users, opts.loginConcurrency, async u => registerUser(opts.target, `${opts.runId}-${u.userId}@load.test`, PASSWORD))
    const logins = users.flatMap(u => Array.from({ length: opts.devicesPerUser }, (_, j) => ({ u, j })))
    await pool(logins, opts.loginConcurrency, async ({ u, j }) => {
      const c = new DeviceCredentials(opts.target, `${opts.runId}-${u.userId}@load.test`, PASSWORD, `sim ${u.userId}.d${j}`)
      await c.login()
      stats.logins++
      c.onToken(() => { stats.refreshes++ })
      u.credentials[j] = c
      u.docName = c.sessionDoc
    })
  }
  for (const u of users) {
    for (let j = 0; j < opts.devicesPerUser; j++) {
      const creds = u.credentials[j]
      const order = syncUrls.map((_, i) => syncUrls[(k + i) % syncUrls.length]!)
      k++
      u.devices.push(new SimDevice({
        syncUrl: order[0]!, failoverUrls: order.slice(1), docName: u.docName, userId: u.userId, deviceId: `${u.userId}.d${j}`, mode: opts.mode, stats,
        ...creds?.forDevice(opts.renewInBand ?? true)
      }))
    }
  }
  return users
}

export const allDevices = (users: SimUser[]) => users.flatMap(u => u.devices)

/** Disconnect every device and stop its token renewals. */
export const closeFleet = (users: SimUser[]) => {
  for (const u of users) {
    for (const d of u.devices) d.disconnect()
    for (const c of u.credentials) c?.stopRenewing()
  }
}

/** Connect every device, `batch` at a time, bounded by `deadline`. */
export const connectAll = async (devices: SimDevice[], batch: number, deadline: number): Promise<void> => {
  await pool(devices, batch, async d => {
    if (Date.now() > deadline) throw new Error('connect phase passed its deadline')
    await Promise.race([d.connect(), new Promise((_, reject) => setTimeout(() => reject(new Error('connect timeout')), Math.max(1, deadline - Date.now())).unref())])
  })
}
