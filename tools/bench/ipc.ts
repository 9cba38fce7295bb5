import type { Hist } from './hist.js'

/** What the benchmark parent tells a generator process (tools/bench/gen.ts) over IPC. */
export interface GenSetup {
  cmd: 'setup'
  /** `http://host:port` of the target. */
  httpUrl: string
  /** `ws://host:port/sync` (devices connect to `<syncUrl>/<docName>`). */
  syncUrl: string
  framing: 'y-websocket' | 'hocuspocus'
  /** `api`: log in through tools/load/auth.ts and connect with `?token=`. */
  auth: 'api' | 'none'
  /** One login per device (as real devices do) or one per user, shared by its devices. */
  loginPerDevice: boolean
  /** Global indexes of the docs (users) this generator drives; each doc is driven by one generator only. */
  docs: number[]
  devicesPerDoc: number
  runId: string
  loginConcurrency: number
  connectBatch: number
  /** ms since epoch; the generator exits past it. */
  deadline: number
}

export interface GenStep {
  cmd: 'step'
  /** Edits/s per device. */
  perDevice: number
  seconds: number
  /** Longest wait after the edit phase for outstanding deliveries. */
  drainSeconds: number
  /** ms since epoch: every generator starts editing at the same moment. */
  startAt: number
}

/** Read every document back from the server with a fresh full device and check it holds every edit made. */
export interface GenVerify { cmd: 'verify', timeoutSeconds: number }

export type ToGen = GenSetup | { cmd: 'connect' } | GenStep | GenVerify | { cmd: 'exit' }

/** After `setup`: devices created and (with auth) logged in, nothing connected yet. */
export interface GenPrepared { evt: 'prepared', devices: number, loginSeconds: number }

/** After `connect`. */
export interface GenReady { evt: 'ready', devices: number, synced: number, loginSeconds: number, connectSeconds: number, errors: Record<string, number> }

export interface GenStepResult {
  evt: 'step'
  devices: number
  synced: number
  editsSent: number
  /** editsSent × (devices per doc − 1). */
  expected: number
  /** Deliveries to other devices inside the edit window. */
  deliveredInWindow: number
  /** Deliveries by the end of the drain. */
  delivered: number
  /** Edits some other device of the doc still lacked after the drain. */
  lost: number
  latency: Hist
  windowSeconds: number
  drainSeconds: number
  cpuSeconds: number
  reconnects: number
  errors: Record<string, number>
  closes: Record<string, number>
}

export interface GenVerifyResult {
  evt: 'verify'
  /** Edits made over the whole sweep. */
  edits: number
  /** Of those, not in the server's state. */
  missing: number
  docs: number
  /** Documents whose verifier did not sync in time. */
  docsUnreadable: number
}

export type FromGen = GenPrepared | GenReady | GenStepResult | GenVerifyResult | { evt: 'error', message: string }
