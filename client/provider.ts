/**
 * Live sync of one Y.Doc over one WebSocket, speaking y-websocket plus this server's extensions
 * (in-band reauth, close codes). Not y-websocket's WebsocketProvider: that one knows neither token
 * renewal nor 4401/4403, and reconnects forever on a revoked session.
 */
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import type { DeviceInfo, SecurityAlertMessage } from '../shared/api.js'
import {
  AuthType, CloseCode, MessageType, SYNC_SUBPROTOCOL, SyncType, TOKEN_SUBPROTOCOL_PREFIX, decodeMessage, encodeAwareness,
  encodeReauth, encodeSyncStep1, encodeSyncStep2, encodeUpdate, EXTENSIONS_PARAM } from '../shared/protocol.js'
import { backoffDelay, unrefTimer, type BackoffOptions } from './backoff.js'
import { Emitter } from './emitter.js'
import { SessionEndedError } from './errors.js'
import { UnsyncedTracker, type Probe, type UnsyncedState } from './unsynced.js'

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'synced'

/** What the provider needs from the auth layer. `token()` resolves null when it must not connect. */
export interface TokenSource {
  token (): Promise<string | null>
  /** A fresh token after `rejected` was refused (close 4401 or HTTP 401 on upgrade). */
  refresh (rejected: string): Promise<string>
  /** Close 4403: the device session is over. `detail` is the server's close reason. */
  sessionEnded (detail: string): void
  onToken (cb: (token: string) => void): () => void
}

/** The subset of the WHATWG WebSocket the provider uses; `ws` in Node and browsers' own both fit. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number, reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send (data: Uint8Array): void
  close (code?: number, reason?: string): void
}
/**
 * `protocols` carries the access token (`access_token.<jwt>` next to `y-websocket`): URLs end up in
 * proxy access logs and browser consoles, so the token never goes into the URL.
 */
export type WebSocketCtor = new (url: string, protocols?: string[]) => WebSocketLike

export interface ProviderOptions {
  /** `ws(s)://host/sync/`: the document name is appended. */
  url: string
  WebSocket: WebSocketCtor
  tokens: TokenSource
  device: DeviceInfo
  backoff?: BackoffOptions
  /** A probe (step 1) this often doubles as heartbeat; silence for 2.5× this reconnects. Default 15 s. */
  heartbeatMs?: number
  /** Debounce of the confirmation probe after local edits. Default 50 ms. */
  probeDelayMs?: number
  /** Ask for the server's extension messages (`?ext=1`): security alerts on the session document. */
  extensions?: boolean
}

export interface ProviderEvents extends Record<string, unknown> {
  status: SyncStatus
  /** A reconnect was scheduled (epoch ms of the attempt) or cleared (null): see `nextRetryAt`. */
  retry: number | null
  unsyncedChanges: boolean
  /** Close codes and upgrade failures the provider cannot fix by itself (permission, bad name). */
  error: Error
  permissionDenied: string
  /** Close 4409: the user's rights on this document changed (removed, downgraded, deleted). Reconnects with backoff; re-check access. */
  accessChanged: string
  /** A `securityAlert` message (session document, with `extensions`). */
  securityAlert: SecurityAlertMessage
}

const OPEN = 1

interface Conn {
  ws: WebSocketLike
  token: string
  opened: boolean
  /** Every local change is on the wire once we answered the server's step 1. */
  allSent: boolean
  gotServerState: boolean
  confirmedOnce: boolean
  /** One entry per step 1 we sent, answered in order by the server's step 2s. */
  probes: (Probe | null)[]
  httpStatus: number | null
  lastMessageAt: number
}

export class SyncProvider extends Emitter<ProviderEvents> {
  readonly awareness: Awareness
  status: SyncStatus = 'offline'
  private readonly tracker: UnsyncedTracker
  private unsynced = false
  private conn: Conn | null = null
  private shouldConnect = false
  private destroyed = false
  private attempt = 0
  private failuresBeforeOpen = 0
  private authRetries = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private retryAt: number | null = null
  private probeTimer: ReturnType<typeof setTimeout> | null = null
  private heartbeat: ReturnType<typeof setInterval> | null = null
  private connecting = false
  /** Newest token seen, so a socket that opened with an older one is renewed right away. */
  private latestToken: string | null = null
  private readonly offToken: () => void
  /** Read-only access: our updates are dropped by the server, so they stay "unsynced". */
  readOnly = false

  constructor (readonly doc: Y.Doc, readonly name: string, private readonly opts: ProviderOptions) {
    super()
    this.tracker = new UnsyncedTracker(doc)
    this.awareness = new Awareness(doc)
    this.awareness.setLocalStateField('device', opts.device)
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    this.offToken = opts.tokens.onToken(this.onToken)
    // Browsers know when the network returns: skip the rest of the backoff then.
    ;(globalThis as { addEventListener?: (t: string, cb: () => void) => void }).addEventListener?.('online', this.onOnline)
  }

  private readonly onOnline = () => { this.retryNow() }

  get hasUnsyncedChanges () { return this.unsynced }

  /** When the next reconnect attempt of the backoff runs (epoch ms), or null when none is scheduled. */
  get nextRetryAt (): number | null { return this.retryAt }

  /** Skip the rest of the backoff and try now (a "Retry now" button). No-op unless a retry is scheduled. */
  retryNow (): void {
    if (!this.reconnectTimer || !this.shouldConnect || this.destroyed) return
    this.clearReconnect()
    void this.open()
  }

  /** Start (or resume) syncing; reconnects until `disconnect`, `destroy` or the session ends. */
  connect (): void {
    if (this.destroyed) return
    this.shouldConnect = true
    this.attempt = 0
    if (!this.conn && !this.connecting) { this.clearReconnect(); void this.open() }
  }

  disconnect (): void {
    this.shouldConnect = false
    this.clearReconnect()
    this.closeSocket(1000, 'client disconnect')
  }

  destroy (): void {
    if (this.destroyed) return
    this.disconnect()
    this.destroyed = true
    this.offToken()
    ;(globalThis as { removeEventListener?: (t: string, cb: () => void) => void }).removeEventListener?.('online', this.onOnline)
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.removeAllListeners()
  }

  /** Resolves when status is 'synced' (server state received and ours confirmed). */
  whenSynced (): Promise<void> {
    if (this.status === 'synced') return Promise.resolve()
    return new Promise(resolve => { const off = this.on('status', s => { if (s === 'synced') { off(); resolve() } }) })
  }

  private setStatus (s: SyncStatus) {
    if (this.status === s) return
    this.status = s
    this.emit('status', s)
  }

  /** For the local cache: what the server is known to hold (see UnsyncedState). */
  unsyncedState () { return this.tracker.exportState() }

  /** Restore what an earlier run knew the server holds, so cached content is not counted as unsynced. */
  seedUnsynced (state: UnsyncedState): void {
    this.tracker.seed(state)
    this.recomputeUnsynced()
  }

  private recomputeUnsynced () {
    const u = this.tracker.hasUnsynced
    if (u === this.unsynced) return
    this.unsynced = u
    this.emit('unsyncedChanges', u)
  }

  private async open (): Promise<void> {
    if (this.destroyed || !this.shouldConnect || this.conn || this.connecting) return
    this.connecting = true
    this.setStatus('connecting')
    let token: string | null
    try {
      token = await this.opts.tokens.token()
    } catch (err) {
      this.connecting = false
      if (err instanceof SessionEndedError) return this.halt()
      return this.scheduleReconnect() // offline: the refresh itself could not reach the server
    }
    this.connecting = false
    if (token === null) return this.halt()
    if (!this.shouldConnect || this.destroyed || this.conn) return
    const url = `${this.opts.url.replace(/\/+$/, '')}/${encodeURIComponent(this.name)}${this.opts.extensions ? `?${EXTENSIONS_PARAM}=1` : ''}`
    let ws: WebSocketLike
    try {
      ws = new this.opts.WebSocket(url, token ? [SYNC_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + token] : [SYNC_SUBPROTOCOL])
    } catch (err) {
      // Some runtimes quote the offered subprotocols in this error: report it without them.
      this.emit('error', new Error(`could not open a WebSocket to ${url}: ${(err as Error).name}`))
      return this.scheduleReconnect()
    }
    ws.binaryType = 'arraybuffer'
    const conn: Conn = { ws, token, opened: false, allSent: false, gotServerState: false, confirmedOnce: false, probes: [], httpStatus: null, lastMessageAt: Date.now() }
    this.conn = conn
    ws.onopen = () => this.onOpen(conn)
    ws.onmessage = (ev) => this.onMessage(conn, ev.data)
    ws.onerror = (ev) => {
      // `ws` reports a refused upgrade as "Unexpected server response: 401"; browsers hide the status.
      const m = /Unexpected server response: (\d+)/.exec(String((ev as { message?: string }).message ?? ''))
      if (m) conn.httpStatus = Number(m[1])
    }
    ws.onclose = (ev) => this.onClose(conn, ev.code, ev.reason)
  }

  private send (conn: Conn, frame: Uint8Array) {
    if (conn.ws.readyState === OPEN) conn.ws.send(frame)
  }

  private onOpen (conn: Conn) {
    if (conn !== this.conn) return
    conn.opened = true
    conn.lastMessageAt = Date.now()
    this.failuresBeforeOpen = 0
    this.authRetries = 0
    this.setStatus('syncing')
    if (this.latestToken !== null && conn.token && this.latestToken !== conn.token) {
      conn.token = this.latestToken
      this.send(conn, encodeReauth(this.latestToken))
    }
    conn.probes.push(null) // sent before our step 2: it fetches the server's state, confirms nothing of ours
    this.send(conn, encodeSyncStep1(Y.encodeStateVector(this.doc)))
    if (this.awareness.getLocalState() !== null) {
      this.send(conn, encodeAwareness(encodeAwarenessUpdate(this.awareness, [this.doc.clientID])))
    }
    const hb = this.opts.heartbeatMs ?? 15_000
    this.heartbeat = unrefTimer(setInterval(() => this.beat(conn, hb), hb))
  }

  private beat (conn: Conn, hb: number) {
    if (conn !== this.conn) return
    // A half-open TCP connection never closes by itself: silence means reconnect.
    if (Date.now() - conn.lastMessageAt > hb * 2.5) { this.closeSocket(4000, 'heartbeat timeout'); return }
    if (conn.allSent) this.sendProbe(conn)
  }

  private sendProbe (conn: Conn) {
    conn.probes.push(conn.allSent ? this.tracker.probe() : null)
    this.send(conn, encodeSyncStep1(Y.encodeStateVector(this.doc)))
  }

  private onMessage (conn: Conn, data: unknown) {
    if (conn !== this.conn) return
    conn.lastMessageAt = Date.now()
    let msg
    try {
      msg = decodeMessage(data instanceof ArrayBuffer ? new Uint8Array(data) : data as Uint8Array)
    } catch (err) {
      this.emit('error', err as Error)
      return
    }
    switch (msg.type) {
      case MessageType.sync:
        if (msg.syncType === SyncType.step1) {
          this.tracker.noteServerStateVector(msg.payload)
          this.send(conn, encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, msg.payload)))
          conn.allSent = true
          this.sendProbe(conn)
        } else {
          Y.applyUpdate(this.doc, msg.payload, this)
          this.tracker.noteServerUpdate(msg.payload)
          if (msg.syncType === SyncType.step2) {
            const probe = conn.probes.shift()
            conn.gotServerState = true
            if (probe) { this.tracker.confirm(probe); conn.confirmedOnce = true }
          }
          this.recomputeUnsynced()
          if (conn.gotServerState && conn.confirmedOnce) {
            this.attempt = 0
            this.setStatus('synced')
          }
        }
        break
      case MessageType.awareness:
        applyAwarenessUpdate(this.awareness, msg.payload, this)
        break
      case MessageType.auth:
        if (msg.authType === AuthType.permissionDenied) { this.readOnly = true; this.emit('permissionDenied', msg.reason) }
        break
      case MessageType.queryAwareness:
        this.send(conn, encodeAwareness(encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])))
        break
      case MessageType.securityAlert: {
        let parsed: SecurityAlertMessage
        try { parsed = JSON.parse(msg.json) as SecurityAlertMessage } catch { break }
        this.emit('securityAlert', parsed)
        break
      }
      default:
        break // authExpiry: the auth layer's refresh timer already runs ahead of it
    }
  }

  private onClose (conn: Conn, code: number, reason: string) {
    if (conn !== this.conn) return
    this.conn = null
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = null
    if (this.probeTimer) clearTimeout(this.probeTimer)
    this.probeTimer = null
    const remote = [...this.awareness.getStates().keys()].filter(id => id !== this.doc.clientID)
    removeAwarenessStates(this.awareness, remote, this)
    this.setStatus('offline')
    if (!this.shouldConnect || this.destroyed) return
    if (code === CloseCode.sessionEnded) {
      this.halt()
      this.opts.tokens.sessionEnded(reason)
      return
    }
    if (code === CloseCode.tokenExpired || conn.httpStatus === 401) return this.refreshAndReconnect(conn.token)
    if (conn.httpStatus === 403 || conn.httpStatus === 404 || code === CloseCode.invalidDocName) {
      this.halt()
      this.emit('error', new Error(`document ${this.name} refused: ${conn.httpStatus ?? code} ${reason}`))
      return
    }
    if (!conn.opened && conn.token && ++this.failuresBeforeOpen % 3 === 0) {
      // Browsers hide the upgrade's status: after repeated refusals, check the session via a refresh.
      return this.refreshAndReconnect(conn.token)
    }
    if (code === CloseCode.badMessage || code === CloseCode.messageTooLarge) this.emit('error', new Error(`closed ${code}: ${reason}`))
    if (code === CloseCode.accessChanged) this.emit('accessChanged', reason)
    this.scheduleReconnect()
  }

  private refreshAndReconnect (rejected: string) {
    this.setStatus('connecting')
    // At once the first time; if a fresh token is refused again before any socket opened, back off.
    const immediate = this.authRetries++ === 0
    this.opts.tokens.refresh(rejected).then(
      () => { if (!this.shouldConnect) return; if (immediate) void this.open(); else this.scheduleReconnect() },
      (err) => { if (err instanceof SessionEndedError) this.halt(); else this.scheduleReconnect() }
    )
  }

  /** Stop without retrying; `connect()` (e.g. after a new sign-in) resumes. */
  private halt () {
    this.shouldConnect = false
    this.clearReconnect()
    this.closeSocket(1000, 'session ended')
    this.setStatus('offline')
  }

  private scheduleReconnect () {
    this.setStatus('offline')
    if (!this.shouldConnect || this.destroyed || this.reconnectTimer) return
    const delay = backoffDelay(this.attempt++, this.opts.backoff)
    this.reconnectTimer = unrefTimer(setTimeout(() => { this.reconnectTimer = null; this.setRetryAt(null); void this.open() }, delay))
    this.setRetryAt(Date.now() + delay)
  }

  private clearReconnect () {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    this.setRetryAt(null)
  }

  private setRetryAt (at: number | null) {
    if (this.retryAt === at) return
    this.retryAt = at
    this.emit('retry', at)
  }

  private closeSocket (code: number, reason: string) {
    const conn = this.conn
    if (!conn) return
    if (conn.ws.readyState === OPEN) {
      this.send(conn, encodeAwareness(encodeAwarenessUpdate(this.awareness, [this.doc.clientID], new Map())))
    }
    try { conn.ws.close(code, reason) } catch { /* already closing */ }
    // Treat it as closed now; its late close event is ignored (conn !== this.conn).
    this.onClose(conn, code, reason)
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this) return
    this.tracker.noteLocal(update)
    this.recomputeUnsynced()
    const conn = this.conn
    if (!conn?.opened) return // covered by the step 2 we send when the server's step 1 arrives
    this.send(conn, encodeUpdate(update))
    if (conn.allSent && !this.probeTimer) {
      this.probeTimer = unrefTimer(setTimeout(() => {
        this.probeTimer = null
        if (this.conn === conn) this.sendProbe(conn)
      }, this.opts.probeDelayMs ?? 50))
    }
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }, origin: unknown) => {
    const local = this.awareness.getLocalState()
    if (local && !('device' in local)) {
      // Apps may replace the whole local state; every peer should still see which device this is.
      this.awareness.setLocalStateField('device', this.opts.device)
      return
    }
    if (origin === this || !this.conn?.opened) return
    const changed = [...added, ...updated, ...removed]
    this.send(this.conn, encodeAwareness(encodeAwarenessUpdate(this.awareness, changed)))
  }

  private readonly onToken = (token: string) => {
    this.latestToken = token
    const conn = this.conn
    if (conn?.opened && conn.token !== token) {
      // Renew in-band: the server answers authExpiry and keeps the socket instead of closing 4401.
      conn.token = token
      this.send(conn, encodeReauth(token))
    } else if (!conn && this.shouldConnect && !this.connecting && !this.destroyed) {
      this.clearReconnect()
      void this.open()
    }
  }
}
