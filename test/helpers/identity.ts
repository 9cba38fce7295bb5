import { randomUUID } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose'
import WebSocket from 'ws'
import type { ServerConfig } from '../../server/config.js'
import type { TokenResponse } from '../../shared/api.js'
import { decodeMessage, encodeSyncStep1, MessageType, SyncType } from '../../shared/protocol.js'
import { startServer } from './server.js'

export const PASSWORD = 'correct horse battery staple'

/** A real server with identity on (the production default), LevelDB in a temp dir. */
export const startIdentityServer = (overrides: Partial<ServerConfig> = {}) => startServer({ insecureNoAuth: false, ...overrides })

/** A parsed JSON body: tests read the fields they check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any

export interface Res<T = Json> { status: number, body: T, headers: Headers }

/** One device: its own ES256 key, DPoP proofs, raw HTTP calls. Tests bend each part to forge requests. */
export class TestDevice {
  key!: { privateKey: CryptoKey, jwk: JWK }
  tokens!: TokenResponse

  constructor (public baseUrl: string, readonly email: string, readonly name = 'device') {}

  static async create (baseUrl: string, email: string, name?: string): Promise<TestDevice> {
    const d = new TestDevice(baseUrl, email, name)
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    d.key = { privateKey, jwk: await exportJWK(publicKey) }
    return d
  }

  proof (method: string, path: string, over: { htm?: string, htu?: string, iat?: number, jti?: string, key?: TestDevice['key'], typ?: string } = {}): Promise<string> {
    const key = over.key ?? this.key
    return new SignJWT({ htm: over.htm ?? method, htu: over.htu ?? this.baseUrl + path, jti: over.jti ?? randomUUID() })
      .setProtectedHeader({ typ: over.typ ?? 'dpop+jwt', alg: 'ES256', jwk: key.jwk })
      .setIssuedAt(over.iat ?? Math.floor(Date.now() / 1000))
      .sign(key.privateKey)
  }

  async call<T = Json> (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers }
    if (body !== undefined) h['content-type'] = 'application/json'
    const res = await fetch(this.baseUrl + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
  }

  /** An authenticated call with this device's current access token. */
  api<T = Json> (method: string, path: string, body?: unknown, token = this.tokens.accessToken): Promise<Res<T>> {
    return this.call<T>(method, path, body, { authorization: `Bearer ${token}` })
  }

  async withProof<T = Json> (path: string, body: unknown, proof?: string): Promise<Res<T>> {
    return this.call<T>('POST', path, body, { dpop: proof ?? await this.proof('POST', path) })
  }

  async register (password = PASSWORD): Promise<Res> { return this.call('POST', '/auth/register', { email: this.email, password }) }

  async login (password = PASSWORD): Promise<Res> {
    const res = await this.withProof('/auth/login', { email: this.email, password, device: { name: this.name, platform: 'node' } })
    if (res.status === 200 && res.body.accessToken) this.tokens = res.body
    return res
  }

  async refresh (refreshToken = this.tokens.refreshToken, proof?: string): Promise<Res> {
    const res = await this.withProof('/auth/refresh', { refreshToken }, proof)
    if (res.status === 200) this.tokens = res.body
    return res
  }

  /** Opens `/sync/<doc>?token=…`; resolves with the socket, or rejects with the HTTP status of a refused upgrade. */
  socket (doc: string, token = this.tokens.accessToken): Promise<WebSocket> {
    const ws = new WebSocket(`${this.baseUrl.replace('http', 'ws')}/sync/${doc}?token=${encodeURIComponent(token)}`)
    ws.binaryType = 'nodebuffer'
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws))
      ws.once('unexpected-response', (_req, res) => { reject(new UpgradeRefused(res.statusCode ?? 0)); ws.terminate() })
      ws.once('error', reject)
    })
  }
}

export class UpgradeRefused extends Error {
  constructor (readonly status: number) { super(`upgrade refused with ${status}`) }
}

/** Registers and logs in a fresh user on one device. */
export const signedInDevice = async (baseUrl: string, email = `u-${randomUUID().slice(0, 8)}@example.com`, name?: string): Promise<TestDevice> => {
  const d = await TestDevice.create(baseUrl, email, name)
  const r = await d.register()
  if (r.status !== 201) throw new Error(`register ${r.status} ${JSON.stringify(r.body)}`)
  const l = await d.login()
  if (l.status !== 200) throw new Error(`login ${l.status} ${JSON.stringify(l.body)}`)
  return d
}

/** Another device of the same user. */
export const secondDevice = async (first: TestDevice, name = 'second'): Promise<TestDevice> => {
  const d = await TestDevice.create(first.baseUrl, first.email, name)
  const l = await d.login()
  if (l.status !== 200) throw new Error(`login ${l.status}`)
  return d
}

/** Resolves with the close code of a socket. */
/** The sync URL of a device's own session document, with its access token (or `token`). */
export const sessionDocUrl = (wsUrl: string, d: { tokens: { sessionDoc: string, accessToken: string } }, token = d.tokens.accessToken): string =>
  `${wsUrl}/${d.tokens.sessionDoc}?token=${encodeURIComponent(token)}`

export const closeCode = (ws: WebSocket): Promise<number> =>
  new Promise(resolve => { if (ws.readyState === ws.CLOSED) resolve(-1); else ws.once('close', code => resolve(code)) })

/**
 * A barrier on a sync socket: sends sync step 1 for an empty document and resolves with the server's
 * step 2 reply, the document's whole state. The server handles a socket's messages in order, so
 * everything sent before has been applied when the reply comes.
 */
export const syncRoundTrip = (ws: WebSocket): Promise<Uint8Array> => new Promise((resolve, reject) => {
  const onMessage = (data: Buffer) => {
    const msg = decodeMessage(new Uint8Array(data))
    if (msg.type !== MessageType.sync || msg.syncType !== SyncType.step2) return
    ws.off('message', onMessage)
    resolve(msg.payload)
  }
  ws.on('message', onMessage)
  ws.once('close', code => reject(new Error(`socket closed (${code}) before the sync reply`)))
  ws.send(encodeSyncStep1(Uint8Array.of(0)))
})
