import WebSocket from 'ws'
import * as Y from 'yjs'
import { decodeMessage, encodeSyncStep1, MessageType, SyncType, encodeUpdate, encodeSyncStep2 } from '../../shared/protocol.js'

/**
 * A y-websocket peer speaking the protocol directly over a real socket: keeps a Y.Doc in sync and
 * records close codes. Lets tests send exactly the bytes they want.
 */
export class RawClient {
  readonly doc = new Y.Doc()
  readonly ws: WebSocket
  closeCode: number | null = null
  closeReason = ''
  synced = false
  received: Uint8Array[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<number>
  /** One entry per step 1 sent, in order: the resolver of its step 2 reply (null for the opening one). */
  private readonly replies: Array<(() => void) | null> = []

  constructor (url: string, opts: WebSocket.ClientOptions & { protocols?: string[] } = {}) {
    this.ws = new WebSocket(url, opts.protocols, opts)
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
    this.closed = new Promise(resolve => this.ws.on('close', (code, reason) => { this.closeCode = code; this.closeReason = reason.toString(); resolve(code) }))
    this.ws.on('open', () => { this.replies.push(null); this.ws.send(encodeSyncStep1(Y.encodeStateVector(this.doc))) })
    this.ws.on('message', (data: Buffer) => this.onMessage(data))
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeUpdate(update))
    })
  }

  private onMessage (data: Buffer) {
    this.received.push(data)
    const msg = decodeMessage(data)
    if (msg.type !== MessageType.sync) return
    if (msg.syncType === SyncType.step1) this.ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, msg.payload)))
    else {
      Y.applyUpdate(this.doc, msg.payload, this)
      if (msg.syncType === SyncType.step2) { this.synced = true; this.replies.shift()?.() }
    }
  }

  /**
   * A barrier: resolves when the server answers a fresh sync step 1. The server handles a socket's
   * messages in order and sends on a socket in order, so what this client sent before has been
   * handled and what the server sent it before has arrived.
   */
  roundTrip (): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replies.push(resolve)
      void this.closed.then(code => reject(new Error(`socket closed (${code}) before the sync reply`)))
      this.ws.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    })
  }

  text (name = 't') { return this.doc.getText(name).toString() }

  sendRaw (bytes: Uint8Array | Buffer) { this.ws.send(bytes) }

  close () { this.ws.close(); return this.closed }
}
