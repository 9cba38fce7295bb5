/**
 * What the UI needs from the client SDK, in the UI's own words. `sdk-backend.ts` implements it with
 * the real SDK (`client/`); the views import only this file, so the SDK's surface is used in one place.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { DeviceCodeResponse, DeviceInfo, DocInfo, SessionInfo, MfaEnrollResponse, PairingRequestInfo, PasskeyInfo, SecurityAlert } from '../../shared/api.js'
import type { Preferences } from './model.js'

export type { DocInfo, SessionInfo, DeviceInfo, DeviceCodeResponse, PairingRequestInfo, PasskeyInfo, SecurityAlert }

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'synced'

export interface Account {
  userId: string
  email: string
  /** The SDK profile this device signed in with, when not the email's (pairing and passkey sign-in know no email first). */
  profileId?: string
  sessionId: string
  deviceName: string
  platform: string
  mfaEnabled: boolean
}

export interface OpenDoc {
  name: string
  doc: Y.Doc
  awareness: Awareness
  status (): SyncStatus
  hasUnsyncedChanges (): boolean
  /** Status or unsynced flag changed. Returns an unsubscribe function. */
  onChange (fn: () => void): () => void
  /** The server closed the socket because this user's access changed (removed, downgraded, deleted). */
  onAccessChanged (fn: () => void): () => void
  close (): void
}

export { DEFAULT_PREFS, type Preferences, type Theme } from './model.js'

/** Where the user was last active: written by the editor, read by every other device. */
export interface LastActive { docId: string, title: string, cursor: unknown, sessionId: string, deviceName: string, at: number }

/** A synced playback position: the newest of any device. */
export interface Playback { seconds: number, at: number }

/** Why this device's session ended, for the sign-in-again prompt. */
export type EndReason = 'revoked' | 'expired' | 'signed-out' | 'password-changed' | 'unknown'

export interface Backend {
  /** The signed-in account kept on this device (works offline), or null. */
  restore (): Promise<Account | null>
  register (email: string, password: string): Promise<void>
  login (email: string, password: string, device: DeviceInfo): Promise<Account | 'mfa'>
  verifyMfa (code: string): Promise<Account>
  logout (): Promise<void>
  changePassword (current: string, next: string): Promise<void>

  mfaEnroll (): Promise<MfaEnrollResponse>
  mfaConfirm (code: string): Promise<string[]>
  mfaDisable (code: string): Promise<void>
  stepUp (code: string): Promise<void>

  listDevices (): Promise<SessionInfo[]>
  revokeDevice (sessionId: string): Promise<void>
  revokeOtherDevices (): Promise<void>

  /** This device (a TV) asks for a pairing code and waits until a signed-in device approves it. */
  pairDevice (device: DeviceInfo, onCode: (code: DeviceCodeResponse) => void, signal: AbortSignal): Promise<Account>
  /** On a signed-in device: what asks to be added under a typed code. */
  lookupPairing (userCode: string): Promise<PairingRequestInfo>
  /** With MFA on, needs step-up (`step_up_required`). */
  approvePairing (userCode: string): Promise<void>
  denyPairing (userCode: string): Promise<void>

  /** WebAuthn is available here (a secure context with PublicKeyCredential). */
  passkeysSupported (): boolean
  loginWithPasskey (device: DeviceInfo): Promise<Account>
  listPasskeys (): Promise<PasskeyInfo[]>
  /** With MFA on, needs step-up. */
  registerPasskey (name?: string): Promise<PasskeyInfo>
  renamePasskey (id: string, name: string): Promise<void>
  /** With MFA on, needs step-up. */
  removePasskey (id: string): Promise<void>
  stepUpWithPasskey (): Promise<void>

  listDrafts (): Promise<DocInfo[]>
  getDraft (id: string): Promise<DocInfo>
  createDraft (title: string): Promise<DocInfo>
  renameDraft (id: string, title: string): Promise<DocInfo>
  deleteDraft (id: string): Promise<void>
  addMember (id: string, email: string, role: 'editor' | 'viewer'): Promise<void>
  removeMember (id: string, userId: string): Promise<void>

  /** Open a document: resolves once the local cache is loaded (works offline), then syncs live. */
  openDoc (name: string): Promise<OpenDoc>
  /** The user's session document (preferences, last active …), opened once per sign-in. */
  sessionDoc (): Promise<OpenDoc>

  preferences (): Preferences
  setPreferences (p: Partial<Preferences>): void
  lastActive (): LastActive | null
  setLastActive (a: Omit<LastActive, 'sessionId' | 'deviceName' | 'at'>): void
  /** Where the user is in a video, on whichever device watched last. */
  playback (mediaId: string): Playback | null
  setPlayback (mediaId: string, seconds: number): void
  /** Session-state changes (preferences, last active) from any device. */
  onSessionState (fn: () => void): () => void

  /** The device session ended (revoked elsewhere, expired, password changed): sign in again. */
  onSessionEnded (fn: (reason: EndReason) => void): () => void

  /** Security alerts (views/alerts.ts); a backend without them shows no banner. */
  securityAlerts? (): Promise<SecurityAlert[]>
  confirmAlert? (id: string): Promise<void>
  signOutAlertSession? (id: string): Promise<void>
  /** New alerts and resolutions, live while the session document is open. */
  onSecurityAlert? (fn: (e: { alert: SecurityAlert } | { resolved: string }) => void): () => void
  /** Whether the signed-in account has the admin role (asked from the server). */
  isAdmin (): Promise<boolean>
  /** An admin API call (`/admin/*`); ending sessions and disabling need step-up with MFA on. */
  admin<T> (method: 'GET' | 'POST' | 'DELETE', path: string): Promise<T>
}

/** An API failure with the server's error code (`shared/api.ts` ErrorCode) when there is one. */
export class BackendError extends Error {
  constructor (readonly code: string, message: string, readonly status = 0) { super(message) }
}

const FRIENDLY: Record<string, string> = {
  invalid_credentials: 'That email and password do not match.',
  email_taken: 'An account with this email already exists. Sign in instead?',
  weak_password: 'Choose a longer password (at least 10 characters, not a common one).',
  invalid_mfa_code: 'That code is not right. Check your authenticator app and try again.',
  mfa_not_enabled: 'Two-factor authentication is not on.',
  mfa_already_enabled: 'Two-factor authentication is already on.',
  rate_limited: 'Too many attempts. Wait a minute and try again.',
  session_ended: 'You were signed out on this device.',
  refresh_token_reused: 'You were signed out on this device.',
  token_expired: 'Your session expired.',
  step_up_required: 'Confirm with your authenticator code first.',
  invalid_user_code: 'No device is waiting for that code. Check the code on the other screen.',
  access_denied: 'The request was denied.',
  expired_token: 'The code expired. A new one is on its way.',
  passkey_unknown: 'That passkey is not registered for any account here (or it was removed).',
  passkey_wrong_user: 'That passkey belongs to another account.',
  passkey_exists: 'That passkey is already registered.',
  passkey_invalid: 'The passkey could not be verified. Try again.',
  passkey_challenge_invalid: 'The passkey request expired. Try again.',
  passkey_origin_mismatch: 'That passkey response came from another site.',
  passkey_rp_id_mismatch: 'That passkey belongs to another site.',
  passkey_cancelled: 'Passkey request cancelled.',
  forbidden: 'You do not have permission to do that.',
  account_disabled: 'This account is disabled. Contact the administrator.',
  not_found: 'That no longer exists.',
  conflict: 'That conflicts with a change made elsewhere. Reload and try again.',
  offline: 'You are offline. Try again when you are back online.'
}

export const friendlyError = (err: unknown): string => {
  if (err instanceof BackendError) return FRIENDLY[err.code] ?? err.message
  const e = err as { code?: string, message?: string }
  if (e && typeof e.code === 'string' && FRIENDLY[e.code]) return FRIENDLY[e.code]!
  if (!navigator.onLine || e instanceof TypeError) return FRIENDLY.offline!
  return e?.message ? `Something went wrong: ${e.message}` : 'Something went wrong.'
}

export const errorCode = (err: unknown): string | undefined => {
  const e = err as { code?: unknown }
  return e && typeof e.code === 'string' ? e.code : undefined
}
