import type { JWK } from 'jose'
import type { TokenResponse } from '../shared/api.js'

/** The device's DPoP key pair. `privateKey` is non-extractable wherever the platform allows it. */
export interface DeviceKey { privateKey: CryptoKey, publicJwk: JWK }

/**
 * Where one device profile keeps its secrets. One profile = one device session = one local cache;
 * re-login must reuse the same profile so that edits cached while signed out still sync afterwards.
 */
export interface ProfileStore {
  /** Stable id of the profile: keys the refresh lock and the document cache. */
  readonly id: string
  /** Whether setKey needs an extractable private key (a file store has to serialize it). */
  readonly needsExtractableKey: boolean
  getKey (): Promise<DeviceKey | null>
  setKey (key: DeviceKey): Promise<void>
  getTokens (): Promise<TokenResponse | null>
  setTokens (tokens: TokenResponse | null): Promise<void>
  /** Delete tokens and the device key (the document cache is wiped separately, by its own store). */
  wipe (): Promise<void>
  /** Cross-process exclusion for refreshes, when the platform has no navigator.locks. */
  withLock? <T>(fn: () => Promise<T>): Promise<T>
}
