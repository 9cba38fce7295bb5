/**
 * A load-generator process for the benchmark (forked by tools/bench/run.ts with an IPC channel).
 * It drives whole documents — every device of a document lives in the same generator — so that
 * delivery and loss can be judged locally; the parent merges the results of all generators.
 *
 * IPC: `setup` → creates (and with auth, logs in) the devices and connects them → `ready`;
 * `step` → one steady phase at the given per-device rate plus a drain → `step` result; `exit`.
 */
import { SimDevice } from '../load/device.js'
import { DeviceCredentials, registerUser } from '../load/auth.js'
import { pool } from '../load/fleet.js'
import { RunStats } from '../load/run-stats.js'
import { histOf } from './hist.js'
import type { FromGen, GenSetup, GenStep, GenStepResult, GenVerify, ToGen } from './ipc.js'

const PASSWORD = 'bench-Pa55word!-load'
const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

interface Doc { index: number, docName: string, devices: SimDevice[] }

let docs: Doc[] = []
let devices: SimDevice[] = []
let setup: GenSetup | null = null

const send = (msg: FromGen) => { process.send?.(msg) }

const doSetup = async (s: GenSetup) => {
  setup = s
  const stats = new RunStats()
  const syncUrl = s.syncUrl
  docs = s.docs.map(i => ({ index: i, docName: `bench-${s.runId}-u${i}`, devices: [] }))
  const loginStart = Date.now()
  const creds = new Map<number, DeviceCredentials[]>()
  if (s.auth === 'api') {
    const email = (d: Doc) => `bench-${s.runId}-u${d.index}@bench.test`
    await pool(docs, s.loginConcurrency, async d => {
      if (Date.now() > s.deadline) throw new Error('login phase passed its deadline')
      await registerUser(s.httpUrl, email(d), PASSWORD)
    })
    const logins = docs.flatMap(d => Array.from({ length: s.loginPerDevice ? s.devicesPerDoc : 1 }, (_, j) => ({ d, j })))
    await pool(logins, s.loginConcurrency, async ({ d, j }) => {
      if (Date.now() > s.deadline) throw new Error('login phase passed its deadline')
      const c = new DeviceCredentials(s.httpUrl, email(d), PASSWORD, `bench u${d.index}.d${j}`)
      await c.login()
      const list = creds.get(d.index) ?? []
      list[j] = c
      creds.set(d.index, list)
      d.docName = c.sessionDoc
    })
  }
  const loginSeconds = (Date.now() - loginStart) / 1000
  for (const d of docs) {
    for (let j = 0; j < s.devicesPerDoc; j++) {
      const list = creds.get(d.index)
      const c = list ? list[s.loginPerDevice ? j : 0]! : null
      const device = new SimDevice({
        syncUrl, docName: d.docName, userId: `u${d.index}`, deviceId: `u${d.index}.d${j}`, mode: 'light', stats, framing: s.framing,
        // Renew in-band before expiry, as the SDK does: a sweep outlives the 10-min access token, and
        // 1000 devices closed with 4401 in one second would be a reconnect storm inside a steady step.
        ...c?.forDevice(true)
      })
      d.devices.push(device)
    }
  }
  devices = docs.flatMap(d => d.devices)
  setupStats = stats
  setupLoginSeconds = loginSeconds
  send({ evt: 'prepared', devices: devices.length, loginSeconds })
}

let setupStats = new RunStats()
let setupLoginSeconds = 0

const doConnect = async () => {
  const s = setup!
  const stats = setupStats
  const loginSeconds = setupLoginSeconds
  const connectStart = Date.now()
  await pool(devices, s.connectBatch, async d => {
    if (Date.now() > s.deadline) throw new Error('connect phase passed its deadline')
    const timeout = Math.max(1, Math.min(30_000, s.deadline - Date.now()))
    await Promise.race([d.connect(), sleep(timeout).then(() => { throw new Error('connect timeout') })])
  })
  send({ evt: 'ready', devices: devices.length, synced: devices.filter(d => d.synced).length, loginSeconds, connectSeconds: (Date.now() - connectStart) / 1000, errors: stats.errors.toJSON() })
}

/** Edits at `perDevice` edits/s from every device, evenly spread (as tools/load/scenarios.ts), bounded in time and count. */
const editLoop = async (perDevice: number, seconds: number, deadline: number) => {
  const total = devices.length * perDevice
  const start = Date.now()
  const end = Math.min(start + seconds * 1000, deadline)
  const maxEdits = Math.ceil(total * seconds)
  let sent = 0
  let cursor = 0
  const sendDue = () => {
    const due = Math.min(maxEdits, Math.floor(((Math.min(Date.now(), end) - start) / 1000) * total))
    for (; sent < due; sent++) {
      const d = devices[cursor]!
      cursor = (cursor + 1) % devices.length
      if (d.synced) d.edit()
    }
  }
  while (Date.now() < end && sent < maxEdits) {
    sendDue()
    await sleep(2)
  }
  // A generator starved of CPU wakes up late: send what was due by the end of the window
  // (markers carry the real send time, so this burst does not distort latency).
  sendDue()
  return (Math.min(Date.now(), end) - start) / 1000
}

const doStep = async (step: GenStep) => {
  const s = setup!
  const stats = new RunStats()
  for (const d of devices) d.opts.stats = stats
  const madeBefore = new Map(devices.map(d => [d, d.made.size]))
  while (Date.now() < step.startAt) await sleep(Math.min(20, step.startAt - Date.now()))
  const cpu0 = process.cpuUsage()
  const windowSeconds = await editLoop(step.perDevice, step.seconds, s.deadline)
  const deliveredInWindow = stats.delivered
  const expected = stats.editsSent * (s.devicesPerDoc - 1)
  const drainStart = Date.now()
  const drainEnd = Math.min(drainStart + step.drainSeconds * 1000, s.deadline)
  /** Edits of this step that some other device of their document still lacks. */
  const lostEdits = () => {
    const out: Array<{ id: string, sender: SimDevice, lacking: SimDevice[] }> = []
    for (const doc of docs) {
      for (const d of doc.devices) {
        let k = 0
        const skip = madeBefore.get(d) ?? 0
        for (const id of d.made) {
          if (k++ < skip) continue
          const lacking = doc.devices.filter(e => e !== d && !e.seen.has(id))
          if (lacking.length > 0) out.push({ id, sender: d, lacking })
        }
      }
    }
    return out
  }
  while (stats.delivered < expected && Date.now() < drainEnd) await sleep(20)
  // The delivery count can reach `expected` while an edit is still in flight (a late delivery of the
  // previous step counts here): judge loss by edit ids, waiting out the drain before calling any lost.
  let missing = lostEdits()
  while (missing.length > 0 && Date.now() < drainEnd) {
    await sleep(100)
    missing = lostEdits()
  }
  const lost = missing.length
  const drainSeconds = (Date.now() - drainStart) / 1000
  if (process.env.BENCH_DEBUG_LOST) {
    const state = (e: SimDevice) => `${e.opts.deviceId}(synced=${e.synced},ws=${e.socketState},seen=${e.seen.size})`
    for (const m of missing) process.stderr.write(`LOST ${m.id} sender ${state(m.sender)} lacking ${m.lacking.map(state).join(',')}\n`)
  }
  const cpu = process.cpuUsage(cpu0)
  const result: GenStepResult = {
    evt: 'step', devices: devices.length, synced: devices.filter(d => d.synced).length, editsSent: stats.editsSent, expected,
    deliveredInWindow, delivered: stats.delivered, lost, latency: histOf(stats.latency.raw()), windowSeconds, drainSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6, reconnects: stats.reconnects, errors: stats.errors.toJSON(), closes: stats.closes.toJSON()
  }
  send(result)
}

const doVerify = async (v: GenVerify) => {
  let edits = 0
  let missing = 0
  let docsUnreadable = 0
  await pool(docs, 32, async doc => {
    const first = doc.devices[0]!
    const verifier = new SimDevice({ ...first.opts, deviceId: `${first.opts.userId}.verifier`, mode: 'full', stats: new RunStats() })
    try {
      const synced = await Promise.race([verifier.connect().then(() => true), sleep(v.timeoutSeconds * 1000).then(() => false)])
      const held = synced ? verifier.heldEditIds() : new Set<string>()
      if (!synced) docsUnreadable++
      for (const d of doc.devices) for (const id of d.made) { edits++; if (!held.has(id)) missing++ }
    } finally { verifier.disconnect() }
  })
  send({ evt: 'verify', edits, missing, docs: docs.length, docsUnreadable })
}

const shutdown = (code: number) => {
  for (const d of devices) d.disconnect()
  setTimeout(() => process.exit(code), 100).unref()
}

// A generator never outlives its parent, nor its deadline.
process.on('disconnect', () => shutdown(0))
let chain = Promise.resolve()
process.on('message', (msg: ToGen) => {
  chain = chain.then(async () => {
    if (msg.cmd === 'exit') return shutdown(0)
    if (msg.cmd === 'setup') {
      setTimeout(() => { send({ evt: 'error', message: 'generator deadline passed' }); shutdown(3) }, Math.max(1000, msg.deadline - Date.now() + 5000)).unref()
      return doSetup(msg)
    }
    if (msg.cmd === 'connect') return doConnect()
    if (msg.cmd === 'verify') return doVerify(msg)
    return doStep(msg)
  }).catch((err: Error) => { send({ evt: 'error', message: err.message }) })
})
