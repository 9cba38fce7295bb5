import WebSocket from 'ws'
import * as Y from 'yjs'
import { CloseCode, MessageType, SyncType, decodeMessage, encodeReauth, encodeSyncStep1, encodeSyncStep2, encodeUpdate, TOKEN_QUERY_PARAM } from '../../shared/protocol.js'
import { makeMarker, now, scanMarkers } from './markers.js'
import { encodeMapSet } from './edit-codec.js'
import { HeldVector } from './held-vector.js'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type { RunStats } from './run-stats.js'

export interface DeviceOptions {
  /** `ws://host:port/sync` */
  syncUrl: string
  /**
   * Other nodes of a cluster (`ws://host:port/sync` each), tried in turn after `syncUrl` when a
   * connection fails or the server goes away (1001, 1006, 1011-1013), as a device behind a load
   * balancer would land on another node.
   */
  failoverUrls?: string[]
  docName: string
  userId: string
  deviceId: string
  /** Fresh access token for the socket; omitted against servers without authentication. */
  getToken?: (reason: 'connect' | 'expired') => Promise<string>
  /**
   * Subscribe to the device's new access tokens (DeviceCredentials#onToken). When given, each one is
   * sent on the open socket as an in-band reauth, as the SDK's provider does, so the socket outlives
   * the token it opened with. Without it (the churn scenario) the server closes the socket with 4401
   * at expiry and the device refreshes and reconnects.
   */
  onToken?: (cb: (token: string) => void) => () => void
  /**
   * `light`: the device's Y.Doc holds only its own edits and received frames are only scanned for
   * edit markers (thousands of devices per process). `full`: received updates are applied too, so
   * convergence is judged on real Yjs state.
   */
  mode: 'light' | 'full'
  stats: RunStats
  /**
   * Wire framing (default `y-websocket`). `hocuspocus`: every message is prefixed with the document
   * name (varString); the device first sends an auth message and waits for `Authenticated` before
   * sync step 1; hocuspocus' SyncReply (4) counts as sync, its SyncStatus acks (8) are ignored.
   */
  framing?: 'y-websocket' | 'hocuspocus'
}

/** Close codes that mean the node, not the device, is the problem: try the next node. */
const NODE_GONE = new Set([1001, 1006, 1011, 1012, 1013])

/** Hocuspocus message types and auth sub-types (@hocuspocus/server types.ts, @hocuspocus/common auth.ts). */
const HP = { auth: 2, syncReply: 4, tokenAuth: 0, permissionDenied: 1, authenticated: 2 } as const

/**
 * One simulated device: a real socket speaking the y-websocket protocol directly, the same path a
 * real device takes (token, sync step 1/2, updates, reconnects on 4401/1001).
 */
export class SimDevice {
  readonly doc = new Y.Doc()
  /** Edit ids this device holds (own + received). */
  readonly seen = new Set<string>()
  readonly made = new Set<string>()
  private ws: WebSocket | null = null
  /** The socket's readyState, or -1 without one (diagnostics). */
  get socketState (): number { return this.ws?.readyState ?? -1 }
  private seq = 0
  /** Light mode: the device's own edits as hand-encoded updates under its own client id (index = clock). */
  private readonly lightClient = Math.floor(Math.random() * 0xffffffff)
  private readonly lightUpdates: Uint8Array[] = []
  /** Light mode: what the device has received of the other clients (its reconnects ask for the rest only). */
  private readonly held = new HeldVector()
  private wantOnline = false
  /** Index into [syncUrl, ...failoverUrls] of the node this device connects to. */
  private node = 0
  private syncedWaiters: (() => void)[] = []
  private step2Waiters: (() => void)[] = []
  synced = false
  signedOut = false

  constructor (readonly opts: DeviceOptions) {
    opts.onToken?.(token => {
      if (this.ws?.readyState === WebSocket.OPEN && !this.hocuspocus) this.ws.send(encodeReauth(token))
    })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return
      if (this.ws?.readyState === WebSocket.OPEN && this.synced) this.ws.send(this.frame(encodeUpdate(update)))
    })
  }

  /** Connect and resolve once the server's sync step 2 arrived. */
  async connect (reason: 'connect' | 'expired' = 'connect'): Promise<void> {
    this.wantOnline = true
    this.synced = false
    let url = `${this.nodeUrl}/${this.opts.docName}`
    if (this.opts.getToken) {
      try {
        url += `?${TOKEN_QUERY_PARAM}=${encodeURIComponent(await this.opts.getToken(reason))}`
      } catch (err) {
        this.opts.stats.errors.add(`token:${(err as Error).message.slice(0, 40)}`)
        this.signedOut = true
        throw err
      }
    }
    const ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('open', () => ws.send(this.hocuspocus ? this.hocuspocusAuth() : encodeSyncStep1(this.stateVector())))
    ws.on('message', (data: Buffer) => this.onMessage(ws, data))
    ws.on('error', (err) => this.opts.stats.errors.add(`socket:${err.message.slice(0, 40)}`))
    ws.on('close', (code) => this.onClose(ws, code))
    return this.whenSynced()
  }

  /** The sync endpoint this device uses now. */
  get nodeUrl (): string {
    return this.node === 0 ? this.opts.syncUrl : this.opts.failoverUrls![this.node - 1]!
  }

  whenSynced (): Promise<void> {
    if (this.synced) return Promise.resolve()
    return new Promise(resolve => this.syncedWaiters.push(resolve))
  }

  /** Ask the server for everything this device lacks (sync step 1) and wait for the answer. */
  resync (): Promise<void> {
    const ws = this.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return this.whenSynced()
    const done = new Promise<void>(resolve => this.step2Waiters.push(resolve))
    ws.send(this.frame(encodeSyncStep1(this.stateVector())))
    return done
  }

  /** Go offline on purpose (storm). Edits made meanwhile stay in the doc and sync on reconnect. */
  disconnect (): void {
    this.wantOnline = false
    this.synced = false
    this.ws?.close()
    this.ws = null
  }

  /** A new edit id, counted as made and sent by this device. */
  private record (): string {
    const editId = `${this.opts.deviceId}.${this.seq++}`
    this.made.add(editId)
    this.seen.add(editId)
    this.opts.stats.editsSent++
    return editId
  }

  edit (): void {
    const editId = this.record()
    const marker = makeMarker(editId, now())
    if (this.opts.mode === 'full') { this.doc.getMap('edits').set(editId, marker); return }
    const update = encodeMapSet(this.lightClient, this.lightUpdates.length, 'edits', editId, marker)
    this.lightUpdates.push(update)
    if (this.ws?.readyState === WebSocket.OPEN && this.synced) this.ws.send(this.frame(encodeUpdate(update)))
  }

  private get hocuspocus () { return this.opts.framing === 'hocuspocus' }

  /** A y-websocket message as this device's framing puts it on the wire. */
  private frame (msg: Uint8Array): Uint8Array {
    if (!this.hocuspocus) return msg
    const e = encoding.createEncoder()
    encoding.writeVarString(e, this.opts.docName)
    encoding.writeUint8Array(e, msg)
    return encoding.toUint8Array(e)
  }

  /** Hocuspocus: `[docName][Auth][Token][token]`, the first message of every document connection. */
  private hocuspocusAuth (): Uint8Array {
    const e = encoding.createEncoder()
    encoding.writeVarString(e, this.opts.docName)
    encoding.writeVarUint(e, HP.auth)
    encoding.writeVarUint(e, HP.tokenAuth)
    encoding.writeVarString(e, 'bench')
    return encoding.toUint8Array(e)
  }

  /** Hocuspocus: strip the document name; answer `Authenticated` with sync step 1. Returns the y-websocket message to handle, if any. */
  private unframeHocuspocus (ws: WebSocket, data: Buffer): Uint8Array | null {
    const d = decoding.createDecoder(data)
    decoding.readVarString(d)
    const rest = data.subarray(d.pos)
    const type = rest[0]
    if (type === HP.auth) {
      if (rest[1] === HP.authenticated) ws.send(this.frame(encodeSyncStep1(this.stateVector())))
      else if (rest[1] === HP.permissionDenied) this.opts.stats.errors.add('hocuspocus:permission-denied')
      return null
    }
    if (type === HP.syncReply) { const copy = Uint8Array.from(rest); copy[0] = MessageType.sync; return copy }
    if (type === MessageType.sync) return rest
    return null // awareness, sync status acks, stateless
  }

  /** What this device holds: its Y.Doc plus, in light mode, its own hand-encoded edits and what it received (HeldVector). */
  private stateVector (): Uint8Array {
    if (this.opts.mode === 'full') return Y.encodeStateVector(this.doc)
    const own = Y.decodeStateVector(Y.encodeStateVector(this.doc)) // a coldload writer's keystrokes
    if (this.lightUpdates.length > 0) own.set(this.lightClient, this.lightUpdates.length)
    return this.held.encode(own)
  }

  /** What a peer with `stateVector` lacks from this device. */
  private diff (stateVector: Uint8Array): Uint8Array {
    const fromDoc = Y.encodeStateAsUpdate(this.doc, stateVector)
    const have = Y.decodeStateVector(stateVector).get(this.lightClient) ?? 0
    if (have >= this.lightUpdates.length) return fromDoc
    return Y.mergeUpdates([fromDoc, ...this.lightUpdates.slice(have)])
  }

  /** Edit ids the device holds, derived from Yjs state in full mode. */
  heldEditIds (): ReadonlySet<string> {
    return this.opts.mode === 'full' ? new Set(this.doc.getMap<string>('edits').keys()) : this.seen
  }

  /**
   * Record an edit as made that is never encoded or sent (`--drop-edits`): a lost edit on purpose, for
   * the convergence check to catch against a real deployment.
   */
  dropEdit (): void {
    this.record()
  }

  /** One keystroke: a single character appended to the device's draft text (coldload history). */
  type (): void {
    const text = this.doc.getText('draft')
    text.insert(text.length, String.fromCharCode(97 + (this.seq++ % 26)))
  }

  private onMessage (ws: WebSocket, data: Buffer) {
    if (ws !== this.ws) return
    let msg
    try {
      const body = this.hocuspocus ? this.unframeHocuspocus(ws, data) : data
      if (!body) return
      msg = decodeMessage(body)
    } catch { this.opts.stats.errors.add('bad-frame'); return }
    if (msg.type !== MessageType.sync) return
    if (msg.syncType === SyncType.step1) {
      ws.send(this.frame(encodeSyncStep2(this.diff(msg.payload))))
      return
    }
    const live = msg.syncType === SyncType.update
    const at = now()
    scanMarkers(msg.payload, m => {
      if (this.seen.has(m.editId)) return
      this.seen.add(m.editId)
      if (live) { this.opts.stats.latency.add(at - m.sentAt); this.opts.stats.delivered++ }
    })
    if (this.opts.mode === 'full') Y.applyUpdate(this.doc, msg.payload, this)
    else this.held.note(msg.payload)
    if (msg.syncType === SyncType.step2) {
      this.opts.stats.syncStep2++
      this.opts.stats.syncStep2Bytes += msg.payload.byteLength
      for (const w of this.step2Waiters.splice(0)) w()
      if (!this.synced) {
        this.synced = true
        for (const w of this.syncedWaiters.splice(0)) w()
      }
    }
  }

  private onClose (ws: WebSocket, code: number) {
    if (ws !== this.ws) return
    this.ws = null
    this.synced = false
    if (!this.wantOnline) return
    this.opts.stats.closes.add(String(code))
    if (code === CloseCode.sessionEnded) { this.signedOut = true; return }
    const expired = code === CloseCode.tokenExpired
    if (NODE_GONE.has(code) && this.opts.failoverUrls?.length) this.node = (this.node + 1) % (this.opts.failoverUrls.length + 1)
    const delay = expired ? 0 : 50 + Math.random() * 200
    this.opts.stats.reconnects++
    setTimeout(() => {
      if (!this.wantOnline) return
      this.connect(expired ? 'expired' : 'connect').catch(() => {})
    }, delay).unref()
  }
}
