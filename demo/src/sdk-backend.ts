/**
 * The Backend over the client SDK (`client/`). One SDK profile per account on this browser (keyed by
 * email), so that a re-login after a revocation reuses the device's cache and uploads what was edited
 * while signed out.
 *
 * Done here rather than in the SDK:
 *  - going offline/online: the browser's `offline`/`online` events disconnect and reconnect the
 *    providers at once (the provider alone would only notice through its heartbeat);
 *  - the account shown offline (email, device name, MFA on/off) is remembered in localStorage.
 */
import type { DeviceCodeResponse, DeviceInfo, DocInfo, TokenResponse } from '../../shared/api.js'
import { draftDocName } from '../../shared/api.js'
import { Api, ApiRequestError, NetworkError, SessionEndedError, SessionState, type SyncClient, type DocHandle } from '../../client/index.js'
import { createBrowserClient } from '../../client/browser.js'
import { BackendError, type Account, type Backend, type EndReason, type LastActive, type OpenDoc, type Playback, type SecurityAlert } from './backend.js'
import { DEFAULT_PREFS, PREFERENCE_GUARDS, type Preferences } from './model.js'

const ACCOUNT_KEY = 'tandem.account'
/** The SDK profile of sign-ins that start without an email (pairing by code, passkeys): one per browser. */
const DEVICE_PROFILE = 'device'

const loadAccount = (): Account | null => {
  try {
    const a = JSON.parse(localStorage.getItem(ACCOUNT_KEY) ?? 'null') as Account | null
    return a && typeof a.userId === 'string' && typeof a.email === 'string' ? a : null
  } catch { return null }
}
const saveAccount = (a: Account | null) => {
  try { if (a) localStorage.setItem(ACCOUNT_KEY, JSON.stringify(a)); else localStorage.removeItem(ACCOUNT_KEY) } catch { /* private mode */ }
}

/** SDK errors as the UI's BackendError (with the server's error code, or 'offline'). */
const translate = (err: unknown): unknown => {
  if (err instanceof BackendError) return err
  if (err instanceof ApiRequestError) return new BackendError(err.code, err.message, err.status)
  if (err instanceof NetworkError) return new BackendError('offline', err.message)
  if (err instanceof SessionEndedError) return new BackendError('session_ended', err.message, 401)
  // The person closed the browser's passkey prompt, or it timed out (WebAuthn's NotAllowedError).
  const name = (err as { name?: unknown, cause?: { name?: unknown } } | null)
  if (name?.name === 'NotAllowedError' || name?.cause?.name === 'NotAllowedError' || name?.name === 'AbortError') {
    return new BackendError('passkey_cancelled', 'passkey request cancelled')
  }
  return err
}
const call = async <T>(fn: () => Promise<T>): Promise<T> => {
  try { return await fn() } catch (err) { throw translate(err) }
}

const END_REASON: Record<string, EndReason> = {
  revoked: 'revoked',
  refresh_token_reused: 'revoked',
  session_ended: 'unknown',
  signed_out: 'signed-out'
}

/** The server's close reason ("device session ended: expired") says why, when a socket saw the end. */
const DETAIL_REASON: Record<string, EndReason> = {
  revoked: 'revoked',
  refresh_reuse: 'revoked',
  password_changed: 'password-changed',
  expired: 'expired',
  logout: 'signed-out'
}
const endReasonFrom = (reason: string, detail?: string): EndReason => {
  const m = detail?.match(/ended: ([a-z_]+)/)
  return (m && DETAIL_REASON[m[1]!]) || END_REASON[reason] || 'unknown'
}

export class SdkBackend implements Backend {
  private client: SyncClient | null = null
  private clientKey = ''
  private account: Account | null = null
  private mfa: { token: string, profileId: string, email: string, device: DeviceInfo } | null = null
  private readonly handles = new Set<DocHandle>()
  /** Handles being closed, by name: the SDK hands out the same handle for a name until its close ends. */
  private readonly closing = new Map<string, Promise<void>>()
  private session: { handle: DocHandle, open: OpenDoc, state: SessionState<Preferences> } | null = null
  private sessionOpening: Promise<OpenDoc> | null = null
  private readonly stateListeners = new Set<() => void>()
  private readonly endListeners = new Set<(r: EndReason) => void>()
  private pendingEnd: EndReason | null = null
  private offClient: Array<() => void> = []

  constructor (private readonly origin = location.origin) {
    window.addEventListener('offline', () => { for (const h of this.handles) h.provider.disconnect() })
    window.addEventListener('online', () => {
      if (!this.client?.signedIn) return
      for (const h of this.handles) h.provider.connect()
    })
  }

  // ------------------------------------------------------------------------------- the client

  /** The profile an email signs in with: the one this device already uses for that account, else the email's. */
  private profileFor (email: string): string {
    const a = this.account
    return a && a.profileId && a.email.toLowerCase() === email.toLowerCase() ? a.profileId : email.toLowerCase()
  }

  /** The SDK client for this profile and device name (a new one when either changed). */
  private async clientFor (profileId: string, device: DeviceInfo): Promise<SyncClient> {
    const key = `${profileId}\n${device.name}\n${device.platform}`
    if (this.client && this.clientKey === key) return this.client
    await this.dropClient()
    const client = await createBrowserClient({ url: this.origin, device, profileId })
    this.client = client
    this.clientKey = key
    this.offClient = [
      client.on('sessionEnded', ({ reason, detail }) => {
        if (reason === 'logout') return
        this.fireEnded(endReasonFrom(reason, detail))
      })
    ]
    return client
  }

  private async dropClient () {
    for (const off of this.offClient.splice(0)) off()
    this.closeSession()
    const c = this.client
    this.client = null
    this.clientKey = ''
    this.handles.clear()
    await c?.close().catch(() => {})
  }

  private fireEnded (reason: EndReason) {
    if (this.endListeners.size === 0) { this.pendingEnd = reason; return }
    for (const fn of [...this.endListeners]) fn(reason)
  }

  private get api (): Api {
    if (!this.client) throw new BackendError('session_ended', 'not signed in', 401)
    return this.client.api
  }

  private signedIn (tokens: TokenResponse, email: string, device: DeviceInfo, mfaEnabled: boolean, profileId?: string): Account {
    const prev = this.account
    this.account = {
      userId: tokens.userId,
      email,
      ...(profileId && profileId !== email.toLowerCase() ? { profileId } : {}),
      sessionId: tokens.sessionId,
      deviceName: device.name,
      platform: device.platform,
      mfaEnabled: prev && prev.userId === tokens.userId ? (mfaEnabled || prev.mfaEnabled) : mfaEnabled
    }
    saveAccount(this.account)
    this.pendingEnd = null
    return this.account
  }

  // ------------------------------------------------------------------------------ sign in/out

  async restore (): Promise<Account | null> {
    const account = loadAccount()
    if (!account) return null
    const client = await this.clientFor(account.profileId ?? account.email.toLowerCase(), { name: account.deviceName, platform: account.platform })
    this.account = account
    if (!client.signedIn || client.userId !== account.userId) {
      // Tokens are gone (the session ended while the app was closed): show the app with its cached
      // drafts and the sign-in-again prompt.
      this.pendingEnd = 'unknown'
    }
    return account
  }

  async register (email: string, password: string): Promise<void> {
    await call(() => new Api(this.origin).register({ email, password }))
  }

  async login (email: string, password: string, device: DeviceInfo): Promise<Account | 'mfa'> {
    return call(async () => {
      const profileId = this.profileFor(email)
      const client = await this.clientFor(profileId, device)
      const res = await client.login(email, password)
      if (res.mfaRequired) {
        this.mfa = { token: res.mfaToken, profileId, email, device }
        return 'mfa' as const
      }
      return this.signedIn(res.tokens, email, device, false, profileId)
    })
  }

  async verifyMfa (code: string): Promise<Account> {
    const pending = this.mfa
    if (!pending) throw new BackendError('invalid_request', 'Sign in with your password first.')
    return call(async () => {
      const client = await this.clientFor(pending.profileId, pending.device)
      const tokens = await client.verifyMfa(pending.token, code)
      this.mfa = null
      return this.signedIn(tokens, pending.email, pending.device, true, pending.profileId)
    })
  }

  async logout (): Promise<void> {
    const c = this.client
    this.closeSession()
    for (const h of [...this.handles]) this.closeHandle(h)
    try { await c?.logout() } finally {
      saveAccount(null)
      this.account = null
      await this.dropClient()
    }
  }

  /** Needs a stepped-up token when MFA is on (like signing out other devices): see stepUp. */
  async changePassword (current: string, next: string) { await call(() => this.api.changePassword({ current, next })) }

  // ------------------------------------------------------------------------------------- MFA

  mfaEnroll () { return call(() => this.api.enrollMfa()) }

  async mfaConfirm (code: string): Promise<string[]> {
    const res = await call(() => this.api.confirmMfa(code))
    if (this.account) { this.account.mfaEnabled = true; saveAccount(this.account) }
    return res.recoveryCodes
  }

  /** The server wants a stepped-up token to turn MFA off: the code is spent on the step-up. */
  async mfaDisable (code: string): Promise<void> {
    const api = this.api
    await call(async () => {
      await this.stepUp(code)
      await api.disableMfa()
    })
    if (this.account) { this.account.mfaEnabled = false; saveAccount(this.account) }
  }

  /** The SDK adopts the stepped-up access token: the next sensitive requests carry it. */
  async stepUp (code: string): Promise<void> {
    const client = this.client
    if (!client) throw new BackendError('session_ended', 'not signed in', 401)
    await call(() => client.stepUp(code))
  }

  // --------------------------------------------------------------------------------- devices

  async securityAlerts () { return call(() => this.client ? this.client.securityAlerts() : Promise.resolve([])) }
  async confirmAlert (id: string) { await call(() => this.api.confirmAlert(id)) }
  async signOutAlertSession (id: string) { await call(() => this.api.signOutAlertSession(id)) }
  onSecurityAlert (fn: (e: { alert: SecurityAlert } | { resolved: string }) => void): () => void {
    const client = this.client
    if (!client) return () => {}
    const offs = [client.on('securityAlert', alert => fn({ alert })), client.on('securityAlertResolved', r => fn({ resolved: r.id }))]
    return () => { for (const off of offs) off() }
  }

  async listDevices () { return (await call(() => this.api.listSessions())).sessions }
  async revokeDevice (sessionId: string) { await call(() => this.api.revokeSession(sessionId)) }
  async revokeOtherDevices () { await call(() => this.api.revokeOtherSessions()) }

  // ------------------------------------------------------------------- pairing and passkeys

  /** Signed in without an email typed: the account comes from the server. */
  private async signedInAs (client: SyncClient, tokens: TokenResponse, device: DeviceInfo): Promise<Account> {
    const me = await client.api.me()
    return this.signedIn(tokens, me.email, device, me.mfaEnabled, DEVICE_PROFILE)
  }

  pairDevice (device: DeviceInfo, onCode: (code: DeviceCodeResponse) => void, signal: AbortSignal): Promise<Account> {
    return call(async () => {
      const client = await this.clientFor(DEVICE_PROFILE, device)
      const tokens = await client.pairDevice({ onCode, signal, renew: true })
      return this.signedInAs(client, tokens, device)
    })
  }

  lookupPairing (userCode: string) { return call(() => this.api.lookupPairing(userCode)) }

  async approvePairing (userCode: string) {
    const client = this.client
    if (!client) throw new BackendError('session_ended', 'not signed in', 401)
    await call(() => client.approvePairing(userCode))
  }

  async denyPairing (userCode: string) { await call(() => this.api.denyPairing(userCode)) }

  passkeysSupported (): boolean {
    return window.isSecureContext && typeof window.PublicKeyCredential === 'function'
  }

  loginWithPasskey (device: DeviceInfo): Promise<Account> {
    return call(async () => {
      const client = await this.clientFor(DEVICE_PROFILE, device)
      const tokens = await client.loginWithPasskey()
      return this.signedInAs(client, tokens, device)
    })
  }

  async listPasskeys () { return (await call(() => this.api.listPasskeys())).passkeys }

  registerPasskey (name?: string) {
    const client = this.client
    if (!client) return Promise.reject(new BackendError('session_ended', 'not signed in', 401))
    return call(() => client.registerPasskey(name))
  }

  async renamePasskey (id: string, name: string) { await call(() => this.api.renamePasskey(id, name)) }
  async removePasskey (id: string) { await call(() => this.api.removePasskey(id)) }

  async stepUpWithPasskey (): Promise<void> {
    const client = this.client
    if (!client) throw new BackendError('session_ended', 'not signed in', 401)
    await call(() => client.stepUpWithPasskey())
  }

  // ----------------------------------------------------------------------------------- admin

  async isAdmin (): Promise<boolean> { return (await call(() => this.api.me())).admin === true }

  admin<T> (method: 'GET' | 'POST' | 'DELETE', path: string): Promise<T> {
    const client = this.client
    if (!client) return Promise.reject(new BackendError('session_ended', 'not signed in', 401))
    return call(() => client.admin<T>(method, path))
  }

  // ---------------------------------------------------------------------------------- drafts

  async listDrafts () { return (await call(() => this.api.listDocs())).docs }

  getDraft (id: string): Promise<DocInfo> { return call(() => this.api.getDoc(id)) }

  createDraft (title: string) { return call(() => this.api.createDoc({ title })) }
  renameDraft (id: string, title: string) { return call(() => this.api.renameDoc(id, { title })) }
  async deleteDraft (id: string) { await call(() => this.api.deleteDoc(id)) }
  async addMember (id: string, email: string, role: 'editor' | 'viewer') { await call(() => this.api.addMember(id, { email, role })) }
  async removeMember (id: string, userId: string) { await call(() => this.api.removeMember(id, userId)) }

  // ------------------------------------------------------------------------------- documents

  private wrap (handle: DocHandle, onClose: () => void): OpenDoc {
    return {
      name: handle.name,
      doc: handle.doc,
      awareness: handle.awareness,
      status: () => (navigator.onLine ? handle.status : 'offline'),
      hasUnsyncedChanges: () => handle.hasUnsyncedChanges,
      onChange: (fn) => {
        const a = handle.on('status', () => fn())
        const b = handle.on('unsyncedChanges', () => fn())
        return () => { a(); b() }
      },
      onAccessChanged: (fn) => handle.on('accessChanged', () => fn()),
      close: onClose
    }
  }

  private closeHandle (handle: DocHandle) {
    this.handles.delete(handle)
    const p = handle.close().catch(() => {}).finally(() => { if (this.closing.get(handle.name) === p) this.closing.delete(handle.name) })
    this.closing.set(handle.name, p)
  }

  async openDoc (name: string): Promise<OpenDoc> {
    await this.closing.get(name)
    const client = this.client
    if (!client) throw new BackendError('session_ended', 'not signed in', 401)
    const handle = await call(() => client.openDoc(name))
    this.handles.add(handle)
    if (!navigator.onLine) handle.provider.disconnect()
    return this.wrap(handle, () => this.closeHandle(handle))
  }

  sessionDoc (): Promise<OpenDoc> {
    if (this.session) return Promise.resolve(this.session.open)
    if (this.sessionOpening) return this.sessionOpening
    const account = this.account
    const client = this.client
    if (!account || !client) return Promise.reject(new BackendError('session_ended', 'not signed in', 401))
    const p = (async () => {
      const name = `session:${account.userId}`
      await this.closing.get(name)
      const handle = await call(() => client.openDoc(name))
      this.handles.add(handle)
      if (!navigator.onLine) handle.provider.disconnect()
      const open = this.wrap(handle, () => this.closeHandle(handle))
      // The SDK's device id (its DPoP key's thumbprint) names this device in last-active records.
      const deviceId = await client.deviceId()
      const state = new SessionState<Preferences>(handle.doc, { deviceId, deviceName: account.deviceName, preferenceGuards: PREFERENCE_GUARDS })
      this.session = { handle, open, state }
      const emit = () => { for (const fn of [...this.stateListeners]) fn() }
      state.onChange(emit)
      emit()
      return open
    })()
    this.sessionOpening = p
    p.catch(() => {}).finally(() => { if (this.sessionOpening === p) this.sessionOpening = null })
    return p
  }

  private closeSession () {
    const s = this.session
    this.session = null
    this.sessionOpening = null
    s?.open.close()
  }

  // --------------------------------------------------------------------------- session state

  preferences (): Preferences {
    return this.session?.state.getPreferences(DEFAULT_PREFS) ?? { ...DEFAULT_PREFS }
  }

  setPreferences (p: Partial<Preferences>): void {
    this.session?.state.setPreferences(p)
  }

  /**
   * "Continue where you left off": the newest record of another device, unless this device was
   * active since. The record's `sessionId` is the other device's id (never this device's session).
   */
  lastActive (): LastActive | null {
    const state = this.session?.state
    if (!state) return null
    const other = state.continueWhereLeftOff()
    if (!other || !other.docName.startsWith('draft:')) return null
    const own = state.getLastActive()
    if (own && own.at >= other.at) return null
    return { docId: other.docName.slice('draft:'.length), title: '', cursor: other.cursor ?? null, sessionId: `device:${other.deviceId}`, deviceName: other.deviceName, at: other.at }
  }

  setLastActive (a: Omit<LastActive, 'sessionId' | 'deviceName' | 'at'>): void {
    this.session?.state.setLastActive(draftDocName(a.docId), a.cursor)
  }

  playback (mediaId: string): Playback | null {
    const p = this.session?.state.getPlayback(mediaId)
    return p ? { seconds: p.seconds, at: p.at } : null
  }

  setPlayback (mediaId: string, seconds: number): void {
    this.session?.state.setPlayback(mediaId, seconds)
  }

  onSessionState (fn: () => void) { this.stateListeners.add(fn); return () => { this.stateListeners.delete(fn) } }

  onSessionEnded (fn: (reason: EndReason) => void) {
    this.endListeners.add(fn)
    if (this.pendingEnd) { const r = this.pendingEnd; this.pendingEnd = null; queueMicrotask(() => fn(r)) }
    return () => { this.endListeners.delete(fn) }
  }
}

export const createBackend = (): Backend => new SdkBackend()
