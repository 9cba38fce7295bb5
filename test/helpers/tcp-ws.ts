import type http from 'node:http'
import net from 'node:net'
import { randomBytes } from 'node:crypto'

/**
 * A WebSocket client written byte by byte over a plain TCP socket, for tests of the server's frame
 * layer: it sends exactly the frames a test builds (broken ones included) and records every frame the
 * server sends back, in order.
 */

export interface ServerFrame { fin: boolean, opcode: number, payload: Buffer }

/** A client frame: masked unless `mask: false`; `rsv` sets reserved bits; `length` overrides the encoded length. */
export const clientFrame = (opcode: number, payload: Uint8Array = new Uint8Array(0), opts: { fin?: boolean, mask?: boolean, rsv?: number, length?: number } = {}): Buffer => {
  const { fin = true, mask = true, rsv = 0 } = opts
  const n = opts.length ?? payload.byteLength
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0))
  head[0] = (fin ? 0x80 : 0) | rsv | opcode
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127)
  if (ext === 2) head.writeUInt16BE(n, 2)
  if (ext === 8) head.writeBigUInt64BE(BigInt(n), 2)
  const body = Buffer.from(payload)
  if (mask) {
    const key = randomBytes(4)
    key.copy(head, 2 + ext)
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!
  }
  return Buffer.concat([head, body])
}

export const closePayload = (code: number, reason = '') => {
  const r = Buffer.from(reason)
  const b = Buffer.alloc(2 + r.length)
  b.writeUInt16BE(code, 0)
  r.copy(b, 2)
  return b
}

export class TcpWs {
  readonly frames: ServerFrame[] = []
  /** The raw HTTP response head (status line and headers). */
  response = ''
  ended = false
  private buf = Buffer.alloc(0)
  private headDone = false
  readonly closed: Promise<void>

  private constructor (readonly socket: net.Socket) {
    this.closed = new Promise(resolve => socket.once('close', () => resolve()))
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('end', () => { this.ended = true })
    socket.on('error', () => {})
  }

  /** Connect and send an upgrade request; `headers` are added to (or replace) the valid defaults. */
  static async open (httpUrl: string, path: string, headers: Record<string, string | null> = {}): Promise<TcpWs> {
    const url = new URL(httpUrl)
    const socket = net.connect(Number(url.port), url.hostname)
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const client = new TcpWs(socket)
    const all: Record<string, string | null> = {
      Host: url.host, Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13', ...headers
    }
    const method = headers[':method'] ?? 'GET'
    delete all[':method']
    const lines = Object.entries(all).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)
    socket.write(`${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`)
    return client
  }

  /** Resolves with the response head once it has arrived. */
  async head (timeoutMs = 20_000): Promise<string> {
    const end = Date.now() + timeoutMs
    while (!this.headDone && Date.now() < end) await new Promise(r => setTimeout(r, 5))
    if (!this.headDone) throw new Error(`no response head; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)
    return this.response
  }

  get status (): number { return Number(/^HTTP\/1\.1 (\d{3})/.exec(this.response)?.[1] ?? 0) }

  /** What followed the head of a response that was not a 101 (the refusal's body). */
  get body (): string { return this.status === 101 ? '' : this.buf.toString() }

  send (bytes: Uint8Array): void { this.socket.write(bytes) }

  /** Wait until a frame matching `pred` has arrived (or throw after `timeoutMs`). */
  async frame (pred: (f: ServerFrame) => boolean, timeoutMs = 20_000): Promise<ServerFrame> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const f = this.frames.find(pred)
      if (f) return f
      if (Date.now() > end) throw new Error(`no such frame; got opcodes ${this.frames.map(x => x.opcode).join(',')}`)
      await new Promise(r => setTimeout(r, 5))
    }
  }

  /** The server's close frame: its code (null without one) and reason. */
  async closeFrame (timeoutMs = 3000): Promise<{ code: number | null, reason: string }> {
    const f = await this.frame(x => x.opcode === 0x8, timeoutMs)
    return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null, reason: f.payload.subarray(2).toString() }
  }

  private onData (chunk: Buffer) {
    this.buf = Buffer.concat([this.buf, chunk])
    if (!this.headDone) {
      const i = this.buf.indexOf('\r\n\r\n')
      if (i < 0) return
      this.response = this.buf.subarray(0, i).toString('latin1')
      this.buf = this.buf.subarray(i + 4)
      this.headDone = true
      if (this.status !== 101) return
    }
    for (;;) {
      if (this.buf.length < 2) return
      let n = this.buf[1]! & 0x7f
      let at = 2
      if (n === 126) { if (this.buf.length < 4) return; n = this.buf.readUInt16BE(2); at = 4 } else if (n === 127) { if (this.buf.length < 10) return; n = Number(this.buf.readBigUInt64BE(2)); at = 10 }
      if (this.buf.length < at + n) return
      this.frames.push({ fin: (this.buf[0]! & 0x80) !== 0, opcode: this.buf[0]! & 0x0f, payload: Buffer.from(this.buf.subarray(at, at + n)) })
      this.buf = this.buf.subarray(at + n)
    }
  }
}

/**
 * The server's end of every upgrade request, by request path (query included), so that a test can
 * watch what the server holds for one peer. Registered before the server's own listener.
 */
export const upgradeSockets = (server: http.Server): Map<string, net.Socket> => {
  const byPath = new Map<string, net.Socket>()
  server.prependListener('upgrade', (req: http.IncomingMessage, socket: net.Socket) => { byPath.set(req.url ?? '', socket) })
  return byPath
}

/** Records the most data `socket` ever held unsent: its writable length after every write. */
export const peakUnsent = (socket: net.Socket): { max: number } => {
  const seen = { max: socket.writableLength }
  const write = socket.write
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    const ok = write.apply(this, args)
    if (this.writableLength > seen.max) seen.max = this.writableLength
    return ok
  } as net.Socket['write']
  return seen
}
