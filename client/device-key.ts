import { exportJWK, generateKeyPair } from 'jose'
import type { DeviceKey, ProfileStore } from './profile-store.js'

/**
 * The device's DPoP key: generated once per profile and kept until a wipe. Browsers keep it
 * non-extractable (the CryptoKey itself goes into IndexedDB); a file store must serialize it.
 */
export const getOrCreateDeviceKey = async (store: ProfileStore): Promise<DeviceKey> => {
  const existing = await store.getKey()
  if (existing) return existing
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: store.needsExtractableKey })
  const key: DeviceKey = { privateKey, publicJwk: await exportJWK(publicKey) }
  await store.setKey(key)
  // Two instances may race to create the key: whoever wrote last wins, so read back what is stored.
  return (await store.getKey()) ?? key
}
