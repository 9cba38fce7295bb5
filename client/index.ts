/**
 * Public surface of the client SDK (platform-neutral). Platform setups: `client/node.ts`
 * (createNodeClient) and `client/browser.ts` (createBrowserClient).
 */
export { SyncClient, type SyncClientOptions, type ClientEvents } from './client.js'
export { DocHandle } from './doc-handle.js'
export { SyncProvider, type SyncStatus, type ProviderEvents, type TokenSource, type WebSocketCtor, type WebSocketLike } from './provider.js'
export { Api, type FetchLike } from './api.js'
export { AuthManager, type LoginResult, type PairDeviceOptions, type SessionEndReason, type SessionEndedEvent } from './auth.js'
export type { ExpiryWarning } from './expiry.js'
export { SESSION_END_REASONS, isSessionEndReason } from '../shared/api.js'
export type { SessionDeadlinesResponse, SessionInfo } from '../shared/api.js'
export type { PasskeyAuthenticator } from './passkeys.js'
export { normalizeUserCode, formatUserCode, DEVICE_CODE_GRANT_TYPE } from '../shared/device-code.js'
export { ApiRequestError, NetworkError, SessionEndedError, isSessionOver } from './errors.js'
export type { ProfileStore, DeviceKey } from './profile-store.js'
export type { DocCache, CachedDoc } from './doc-cache.js'
export { createDpopProof } from '../shared/dpop.js'
export {
  SessionState, SESSION_STATE_KEYS, type Task, type DraftEntry, type Playback, type LastActive, type SessionStateOptions, type PreferenceGuards
} from './state.js'
