/**
 * The SDK entry point: one instance per device profile. Composes the API, the device session, the
 * document cache and one provider per open document. Platform specifics (storage, WebSocket) are
 * injected; see node.ts and browser.ts for ready-made setups.
 */
import * as Y from 'yjs'
import type { DeviceInfo, SecurityAlert, PairingRequestInfo, PasskeyInfo, RegisterResponse, TokenResponse } from '../shared/api.js'
import { SYNC_PATH_PREFIX, isValidDocName } from '../shared/protocol.js'
import { Api, type FetchLike } from './api.js'
import { AuthManager, type LoginResult, type PairDeviceOptions, type SessionEndReason } from './auth.js'
import type { PasskeyAuthenticator } from './passkeys.js'
import { unrefTimer, type BackoffOptions } from './backoff.js'
import type { DocCache } from './doc-cache.js'
import { DocHandle } from './doc-handle.js'
import { Emitter } from './emitter.js'
import type { ProfileStore } from './profile-store.js'
import { SyncProvider, type TokenSource, type WebSocketCtor } from './provider.js'
import { SessionState, type PreferenceGuards } from './state.js'
import { getOrCreateDeviceKey } from './device-key.js'
import { withProfileLock } from './lock.js'
import { calculateJwkThumbprint } from 'jose'

export interface SyncClientOptions {
  /** Server base URL, `http(s)://host:port`. WebSockets go to the same host under /sync. */
  url: string
  device: DeviceInfo
  store: ProfileStore
  cache: DocCache
  WebSocket: WebSocketCtor
  fetch?: FetchLike
  /** For servers run with --insecure-no-auth (development): sync without signing in. */
  anonymous?: boolean
  /** On revocation, delete caches, tokens and the device key (shared or untrusted devices). */
  wipeOnRevoke?: boolean
  refreshMarginMs?: number
  /** Refresh access tokens on a timer before they expire (default true). */
  autoRefresh?: boolean
  backoff?: BackoffOptions
  heartbeatMs?: number
  /** Passkey ceremonies (the browser entry passes the platform's); without them the passkey methods throw. */
  passkeys?: PasskeyAuthenticator
}

export interface ClientEvents extends Record<string, unknown> {
  signedIn: { userId: string, sessionId: string }
  /** Emitted once per device session, whatever ended it. */
  sessionEnded: { reason: SessionEndReason, detail?: string }
  /** The server ended the session (revocation, logout elsewhere, refresh reuse, password change, expiry). */
  revoked: { reason: SessionEndReason, detail?: string }
  /** Local data was deleted (logout with wipe, or wipeOnRevoke). */
  wiped: undefined
  /**
   * Unusual activity on the account (a sign-in on a new device or network, …), live while the
   * session document is open: ask the person "was this you?" (`confirmAlert`, `signOutAlertSession`).
   */
  securityAlert: SecurityAlert
  /** An alert was answered, on this device or another. */
  securityAlertResolved: { id: string, resolution: 'confirmed' | 'signed_out' }
}

export class SyncClient extends Emitter<ClientEvents> {
  readonly api: Api
  readonly auth: AuthManager
  private readonly handles = new Map<string, Promise<DocHandle>>()
  private readonly tokens: TokenSource
  private closed = false

  private constructor (private readonly opts: SyncClientOptions) {
    super()
    this.api = new Api(opts.url, opts.fetch)
    this.auth = new AuthManager(this.api, opts.store, { device: opts.device, refreshMarginMs: opts.refreshMarginMs, autoRefresh: opts.autoRefresh })
    const anon = opts.anonymous === true
    this.tokens = {
      token: async () => (anon ? '' : this.auth.signedIn ? this.auth.accessToken() : null),
      refresh: async (rejected) => (anon ? '' : this.auth.refresh(rejected)),
      sessionEnded: (detail) => this.auth.end('revoked', true, detail),
      onToken: (cb) => this.auth.on('token', t => cb(t.accessToken))
    }
    this.auth.on('signedIn', (e) => { this.forEachProvider(p => p.connect()); this.emit('signedIn', e) })
    this.auth.on('sessionEnded', (e) => {
      // Documents stay open and editable: edits go to the cache and upload after the next sign-in.
      if (!anon) this.forEachProvider(p => p.disconnect())
      this.emit('sessionEnded', e)
    })
    this.auth.on('revoked', (e) => {
      this.emit('revoked', e)
      if (opts.wipeOnRevoke) void this.wipe()
    })
  }

  static async create (opts: SyncClientOptions): Promise<SyncClient> {
    const c = new SyncClient(opts)
    await c.auth.init()
    return c
  }

  get signedIn () { return this.auth.signedIn }
  get userId () { return this.auth.userId }
  /** The user's private session document (`session:<userId>`), once signed in. */
  get sessionDoc () { return this.auth.sessionDoc }

  register (email: string, password: string): Promise<RegisterResponse> { return this.api.register({ email, password }) }
  login (email: string, password: string): Promise<LoginResult> { return this.auth.login(email, password) }
  verifyMfa (mfaToken: string, code: string): Promise<TokenResponse> { return this.auth.verifyMfa(mfaToken, code) }
  /** Re-prove the second factor before a sensitive action (password, MFA, revoking sessions, approving a device). */
  stepUp (code: string): Promise<void> { return this.auth.stepUp(code) }

  /**
   * Sign in this device by code (a TV, a CLI): `onCode` shows the code and a QR code of its link, the
   * person approves it on a signed-in device, and this resolves signed in. See PairDeviceOptions.
   */
  pairDevice (opts: PairDeviceOptions): Promise<TokenResponse> { return this.auth.pairDevice(opts) }
  /** On a signed-in device: what asks to be added under the code the person typed. */
  lookupPairing (userCode: string): Promise<PairingRequestInfo> { return this.api.lookupPairing(userCode) }
  /** Approve it (with MFA on, step up first: `step_up_required`). */
  approvePairing (userCode: string): Promise<PairingRequestInfo> { return this.auth.approvePairing(userCode) }
  denyPairing (userCode: string): Promise<PairingRequestInfo> { return this.api.denyPairing(userCode) }

  /**
   * Call the admin API (`/admin/*`, see docs/identity.md#admin-role) as this device: e.g.
   * `admin<AdminUserListResponse>('GET', '/admin/users?prefix=ann')`. Admins only (`forbidden`).
   */
  admin<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> { return this.auth.admin<T>(method, path, body) }

  /** Sign in with a passkey of this site, no email typed. */
  async loginWithPasskey (): Promise<TokenResponse> { return this.auth.loginWithPasskey(this.passkeyAuthenticator()) }
  /** Add a passkey to the signed-in account (with MFA on, step up first). */
  async registerPasskey (name?: string): Promise<PasskeyInfo> { return this.auth.registerPasskey(this.passkeyAuthenticator(), name) }
  /** Prove the second factor with a passkey instead of a code. */
  async stepUpWithPasskey (): Promise<void> { return this.auth.stepUpWithPasskey(this.passkeyAuthenticator()) }

  /** Security alerts not answered yet (also those raised while this device was offline). */
  async securityAlerts (): Promise<SecurityAlert[]> { return (await this.api.listAlerts()).alerts }
  /** "It was me": the alert is resolved on every device. */
  confirmAlert (id: string): Promise<void> { return this.api.confirmAlert(id) }
  /** "Sign it out": ends the device session the alert is about. */
  signOutAlertSession (id: string): Promise<void> { return this.api.signOutAlertSession(id) }

  private passkeyAuthenticator (): PasskeyAuthenticator {
    if (!this.opts.passkeys) throw new Error('no passkey authenticator: pass `passkeys` to the client (browsers get one by default)')
    return this.opts.passkeys
  }

  /**
   * Open a document: resolves once the local cache is loaded (works offline), then syncs live.
   * Opening the same name twice returns the same handle. Names: a letter or digit, then up to 127
   * of letters, digits and `._:-` (the server's rule, shared/protocol.ts).
   */
  openDoc (name: string): Promise<DocHandle> {
    if (this.closed) return Promise.reject(new Error('client closed'))
    if (!isValidDocName(name)) return Promise.reject(new Error(`invalid document name ${JSON.stringify(name.slice(0, 140))}`))
    let h = this.handles.get(name)
    if (!h) {
      h = this.createHandle(name)
      this.handles.set(name, h)
      h.catch(() => this.handles.delete(name))
    }
    return h
  }

  private async createHandle (name: string): Promise<DocHandle> {
    const doc = new Y.Doc()
    const o = this.opts
    // The provider exists before the cache loads so it counts cached state as possibly unsynced.
    const provider = new SyncProvider(doc, name, {
      url: o.url.replace(/^http/, 'ws').replace(/\/+$/, '') + SYNC_PATH_PREFIX, WebSocket: o.WebSocket, tokens: this.tokens,
      device: o.device, backoff: o.backoff, heartbeatMs: o.heartbeatMs, extensions: name === this.sessionDoc
    })
    provider.on('securityAlert', m => {
      if (m.type === 'alert') this.emit('securityAlert', m.alert)
      else this.emit('securityAlertResolved', { id: m.id, resolution: m.resolution })
    })
    let cached
    try {
      cached = await o.cache.open(name, doc)
    } catch (err) {
      provider.destroy()
      throw err
    }
    // Cached content the server already held is not "unsynced" just because the app restarted.
    const known = await cached.loadUnsynced().catch(() => undefined)
    if (known) provider.seedUnsynced(known)
    let saveTimer: ReturnType<typeof setTimeout> | null = null
    const save = () => {
      if (saveTimer) clearTimeout(saveTimer)
      saveTimer = null
      void cached.saveUnsynced(provider.unsyncedState()).catch(() => {})
    }
    provider.on('unsyncedChanges', save)
    // Content from the server is held by the server: record that too (debounced), or it would count
    // as unsynced after a restart until the first round trip.
    doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin === provider && !saveTimer) saveTimer = unrefTimer(setTimeout(save, 500))
    })
    const handle = new DocHandle(name, doc, provider, cached, () => this.handles.delete(name))
    if (o.anonymous || this.auth.signedIn) provider.connect()
    return handle
  }

  private forEachProvider (fn: (p: SyncProvider) => void) {
    for (const h of this.handles.values()) void h.then(d => fn(d.provider), () => {})
  }

  /** Stable id of this device profile (thumbprint of its DPoP key): survives re-login, not a wipe. */
  async deviceId (): Promise<string> {
    const key = await withProfileLock(this.opts.store, () => getOrCreateDeviceKey(this.opts.store))
    return calculateJwkThumbprint(key.publicJwk, 'sha256')
  }

  /**
   * Open the private session document with the typed session-state API (`name`: another document,
   * e.g. for anonymous use). `Prefs` types the preferences; `preferenceGuards` check values read back.
   */
  async openSessionState<Prefs extends object = Record<string, unknown>> (
    options: { name?: string, preferenceGuards?: PreferenceGuards<Prefs> } = {}
  ): Promise<{ handle: DocHandle, state: SessionState<Prefs> }> {
    const name = options.name ?? this.sessionDoc
    if (!name) throw new Error('not signed in: no session document')
    const handle = await this.openDoc(name)
    const state = new SessionState<Prefs>(handle.doc, {
      deviceId: await this.deviceId(), deviceName: this.opts.device.name, preferenceGuards: options.preferenceGuards
    })
    return { handle, state }
  }

  /** Sign out. With `wipe`, also delete every cached document, the tokens and the device key. */
  async logout ({ wipe = false }: { wipe?: boolean } = {}): Promise<void> {
    await this.auth.logout()
    if (wipe) await this.wipe()
  }

  /** Delete all local data of this profile. Open documents are closed first. */
  async wipe (): Promise<void> {
    await this.closeDocs()
    await this.opts.cache.wipe()
    await this.opts.store.wipe()
    this.emit('wiped', undefined)
  }

  private async closeDocs () {
    const all = await Promise.allSettled([...this.handles.values()])
    for (const r of all) if (r.status === 'fulfilled') await r.value.close()
    this.handles.clear()
  }

  /** Close sockets and storage handles; tokens and caches stay for the next run. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.closeDocs()
    await this.opts.cache.close()
    await this.auth.idle()
    this.auth.destroy()
    this.removeAllListeners()
  }
}
