import { SimDevice } from './device.js'
import { allDevices, connectAll, pool, type SimUser } from './fleet.js'
import { checkConvergence, type ConvergenceReport } from './convergence.js'
import type { RunStats } from './run-stats.js'

export type ScenarioName = 'steady' | 'idle' | 'storm' | 'churn' | 'coldload'

export interface ScenarioOptions {
  seconds: number
  /** Edits per second per device (steady, churn). */
  rate: number
  /**
   * Steady, churn: ms between two rounds of the edit loop (default 5). Each round sends the edits that
   * fell due since the last, so a server gets them in bursts of about rate × devices × tick; a smaller
   * tick spreads them, as many independent devices would (at the generator's CPU cost).
   */
  tickMs?: number
  /** Offline edits per device (storm). */
  offlineEdits: number
  /** Updates in the document's history (coldload). */
  history: number
  /** Coldload: wait this long before the fresh device opens the document (to let the server unload it). */
  unloadWaitSeconds: number
  connectBatch: number
  /** Hard deadline for the whole run (ms since epoch). */
  deadline: number
  onProgress: (line: string) => void
  /**
   * Called once every device is connected, right before the measured phase (not coldload). With
   * `--processes` it is the barrier that starts every process's measured phase together.
   */
  beforeMeasure?: () => Promise<void>
  /** Self-check: this many devices each drop one edit before the convergence check (it must report them lost). */
  dropEdits?: number
}

export interface ScenarioResult {
  /** Seconds of the measured phase. */
  measuredSeconds: number
  /** Storm: reconnect-to-converged seconds; coldload: open-to-synced milliseconds. */
  extra: Record<string, number>
  convergence: ConvergenceReport
}

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

/**
 * Devices in the order the edit loop takes them: every user's first device, then every user's second
 * one, and so on. So one user's devices edit a whole round apart, not within the same few
 * milliseconds: a person moves between devices, and a server that gets a user's edits together could
 * answer them with one write per device instead of one per edit.
 */
export const editOrder = (users: SimUser[]): SimDevice[] => {
  const most = Math.max(0, ...users.map(u => u.devices.length))
  const order: SimDevice[] = []
  for (let j = 0; j < most; j++) for (const u of users) if (j < u.devices.length) order.push(u.devices[j]!)
  return order
}

/** Send edits at `perDevice` edits/s from every device, evenly spread, until `seconds` pass. */
const editLoop = async (devices: SimDevice[], perDevice: number, seconds: number, opts: ScenarioOptions, stats: RunStats) => {
  const total = devices.length * perDevice
  const start = Date.now()
  const end = Math.min(start + seconds * 1000, opts.deadline)
  const maxEdits = Math.ceil(total * seconds) // bounded in count as well as time
  let sent = 0
  let cursor = 0
  let lastReport = start
  while (Date.now() < end && sent < maxEdits) {
    const due = Math.min(maxEdits, Math.floor(((Date.now() - start) / 1000) * total))
    for (; sent < due; sent++) {
      // Round-robin with a stride keeps every device near its own rate.
      const d = devices[cursor]!
      cursor = (cursor + 1) % devices.length
      if (d.synced) d.edit()
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now()
      const l = stats.latency.summary()
      opts.onProgress(`${((Date.now() - start) / 1000).toFixed(0)}s sent ${stats.editsSent} delivered ${stats.delivered} p50 ${l.p50.toFixed(1)}ms p99 ${l.p99.toFixed(1)}ms reconnects ${stats.reconnects} refreshes ${stats.refreshes} errors ${stats.errors.total}`)
    }
    await sleep(opts.tickMs ?? 5)
  }
  return (Date.now() - start) / 1000
}

/** Bring every device up to date, then read the server's state per user with a fresh full device. */
const converge = async (users: SimUser[], opts: ScenarioOptions, stats: RunStats): Promise<ConvergenceReport> => {
  const devices = allDevices(users)
  // In-flight deliveries first: the resyncs below make the server encode whole documents, and a
  // delivery queued behind that work would count the wait as edit latency.
  const quietBy = Math.min(Date.now() + 10_000, opts.deadline)
  for (let last = -1; stats.delivered !== last && Date.now() < quietBy;) { last = stats.delivered; await sleep(300) }
  // Devices that dropped mid-run reconnect on their own; give them until the deadline.
  const until = Math.min(Date.now() + 30_000, opts.deadline)
  while (devices.some(d => !d.synced && !d.signedOut) && Date.now() < until) await sleep(50)
  await pool(devices.filter(d => d.synced), 64, d => Promise.race([d.resync(), sleep(10_000)]))
  const server = new Map<string, ReadonlySet<string> | null>()
  await pool(users, 16, async u => {
    const first = u.devices[0]!
    const verifier = new SimDevice({ ...first.opts, deviceId: `${u.userId}.verifier`, mode: 'full' })
    try {
      // A refused or dropped attempt reconnects on its own (with a fresh token); a loaded server with
      // short-lived tokens can need several. Not synced by then = unreadable, which is not "lost".
      await Promise.race([verifier.connect().catch(() => {}), sleep(Math.max(1000, Math.min(30_000, opts.deadline - Date.now())))])
      server.set(u.userId, verifier.synced ? verifier.heldEditIds() : null)
    } finally { verifier.disconnect() }
  })
  const made = new Map(users.map(u => [u.userId, new Set(u.devices.flatMap(d => [...d.made]))]))
  return checkConvergence(made, devices.map(d => ({ deviceId: d.opts.deviceId, userId: d.opts.userId, editIds: d.heldEditIds() })), server)
}

export const runScenario = async (name: ScenarioName, users: SimUser[], opts: ScenarioOptions, stats: RunStats): Promise<ScenarioResult> => {
  const devices = allDevices(users)
  const extra: Record<string, number> = {}
  let measuredSeconds = 0
  switch (name) {
    case 'steady':
    case 'churn':
      await connectAll(devices, opts.connectBatch, opts.deadline)
      await opts.beforeMeasure?.()
      measuredSeconds = await editLoop(editOrder(users), opts.rate, opts.seconds, opts, stats)
      break
    case 'idle': {
      await connectAll(devices, opts.connectBatch, opts.deadline)
      await opts.beforeMeasure?.()
      const start = Date.now()
      while (Date.now() - start < opts.seconds * 1000 && Date.now() < opts.deadline) {
        await sleep(1000)
        opts.onProgress(`idle ${((Date.now() - start) / 1000).toFixed(0)}s, ${devices.filter(d => d.synced).length} connected`)
      }
      measuredSeconds = (Date.now() - start) / 1000
      // one edit per user so the convergence check has something to judge
      for (const u of users) u.devices[0]!.edit()
      break
    }
    case 'storm': {
      await connectAll(devices, opts.connectBatch, opts.deadline)
      await opts.beforeMeasure?.()
      for (const d of devices) d.disconnect()
      for (const d of devices) for (let k = 0; k < opts.offlineEdits; k++) d.edit()
      const t0 = Date.now()
      await Promise.all(devices.map(d => Promise.race([d.connect().catch(() => {}), sleep(Math.max(1, opts.deadline - Date.now()))])))
      // converged = every device holds every edit of its user
      const want = new Map(users.map(u => [u.userId, u.devices.length * opts.offlineEdits]))
      while (Date.now() < opts.deadline && devices.some(d => d.seen.size < want.get(d.opts.userId)!)) {
        await sleep(20)
        if (devices.every(d => d.synced)) await pool(devices.filter(d => d.seen.size < want.get(d.opts.userId)!), 64, d => Promise.race([d.resync(), sleep(5000)]))
      }
      extra.convergeSeconds = (Date.now() - t0) / 1000
      measuredSeconds = extra.convergeSeconds
      break
    }
    case 'coldload': {
      // History as a person makes it: one update per keystroke. Yjs merges consecutive characters
      // of one client, so what a snapshot holds is far smaller than the update count.
      const writer = users[0]!.devices[0]!
      await writer.connect()
      const t = Date.now()
      for (let i = 0; i < opts.history && Date.now() < opts.deadline; i++) {
        writer.type()
        if (i % 1000 === 999) { await writer.resync(); opts.onProgress(`history ${i + 1}/${opts.history}`) }
      }
      writer.edit()
      await writer.resync()
      extra.historyWriteSeconds = (Date.now() - t) / 1000
      writer.disconnect()
      // Let the server unload the document (operators pass more than its --unload-grace-ms) so the
      // fresh device measures a load from storage, not from memory.
      const waitUntil = Math.min(Date.now() + opts.unloadWaitSeconds * 1000, opts.deadline)
      while (Date.now() < waitUntil) await sleep(100)
      const base = users[0]!.devices[1]!
      const fresh = new SimDevice({ ...base.opts, deviceId: `${base.opts.deviceId}.fresh`, mode: 'full' })
      const t0 = performance.now()
      await fresh.connect()
      extra.coldLoadMs = performance.now() - t0
      extra.coldLoadChars = fresh.doc.getText('draft').length
      fresh.disconnect()
      measuredSeconds = extra.historyWriteSeconds
      await connectAll(devices, opts.connectBatch, opts.deadline)
      break
    }
  }
  for (const d of devices.slice(0, opts.dropEdits ?? 0)) d.dropEdit()
  const convergence = await converge(users, opts, stats)
  return { measuredSeconds, extra, convergence }
}
