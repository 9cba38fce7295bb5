/**
 * Browser entry (`@session-sync/client/browser`): IndexedDB profile and y-indexeddb cache, the
 * platform WebSocket, plus the whole platform-neutral API.
 */
import { startAuthentication, startRegistration, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser'
import type { WebAuthnJson } from '../shared/api.js'
import { IdbDocCache } from './cache-idb.js'
import { SyncClient, type SyncClientOptions } from './client.js'
import { IdbProfileStore } from './profile-idb.js'
import type { PasskeyAuthenticator } from './passkeys.js'
import type { WebSocketCtor } from './provider.js'

export type BrowserClientOptions = Omit<SyncClientOptions, 'store' | 'cache' | 'WebSocket'> & {
  /** Separates several accounts/profiles in one origin. Default 'default'. */
  profileId?: string
  WebSocket?: WebSocketCtor
}

/** The browser's passkey ceremonies (`navigator.credentials`) through `@simplewebauthn/browser`. */
export const browserPasskeys: PasskeyAuthenticator = {
  create: async (options) => await startRegistration({ optionsJSON: options as unknown as PublicKeyCredentialCreationOptionsJSON }) as unknown as WebAuthnJson,
  get: async (options) => await startAuthentication({ optionsJSON: options as unknown as PublicKeyCredentialRequestOptionsJSON }) as unknown as WebAuthnJson
}

export const createBrowserClient = (opts: BrowserClientOptions): Promise<SyncClient> => {
  const id = opts.profileId ?? 'default'
  return SyncClient.create({
    passkeys: browserPasskeys,
    ...opts,
    store: new IdbProfileStore(id),
    cache: new IdbDocCache(id),
    WebSocket: opts.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketCtor)
  })
}

export { IdbProfileStore, IdbDocCache }
export * from './index.js'
