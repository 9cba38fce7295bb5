import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

/**
 * A software passkey authenticator for server tests: P-256 (ES256) credentials, attestation `none`,
 * discoverable, user verification on. It builds real WebAuthn responses (authenticator data, CBOR,
 * signatures over authData ‖ SHA-256(clientDataJSON)) the way a browser and platform authenticator
 * would, and lets a test bend any part: origin, RP ID, challenge, counter, user handle, flags.
 */

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url')
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest()

export interface SoftCredential {
  id: string
  privateKey: KeyObject
  rpId: string
  /** The user handle (WebAuthn `user.id`) as registered, base64url. */
  userHandle: string
  counter: number
  /** The COSE public key as registered. */
  cose: Uint8Array
}

/** What a test may bend in a response. */
export interface Bend {
  origin?: string
  rpId?: string
  challenge?: string
  type?: string
  /** Signature counter to report (default: one more than last time). */
  counter?: number
  userHandle?: string | null
  /** User verification flag (default on). */
  uv?: boolean
  /** Sign with another credential's key. */
  signWith?: SoftCredential
  /** Register this existing credential again (same ID and key) instead of a new one. */
  again?: SoftCredential
}

interface CreationOptions { challenge: string, rp: { id?: string }, user: { id: string } }
interface RequestOptions { challenge: string, rpId?: string, allowCredentials?: Array<{ id: string }> }

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_AT = 0x40

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = []

  /** `origin`: the page the browser would be on, e.g. `http://localhost:4321`. */
  constructor (readonly origin: string) {}

  private clientData (type: string, challenge: string, bend: Bend): string {
    return b64u(Buffer.from(JSON.stringify({ type: bend.type ?? type, challenge: bend.challenge ?? challenge, origin: bend.origin ?? this.origin, crossOrigin: false })))
  }

  private flags (bend: Bend, extra = 0): number {
    return FLAG_UP | (bend.uv === false ? 0 : FLAG_UV) | extra
  }

  private static counterBytes (n: number): Buffer {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }

  /** `navigator.credentials.create` for the options the server gave. */
  register (options: CreationOptions, bend: Bend = {}): Record<string, unknown> {
    const rpId = options.rp.id ?? new URL(this.origin).hostname
    let privateKey: KeyObject
    let cose: Uint8Array
    if (bend.again) {
      ({ privateKey, cose } = bend.again)
    } else {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const jwk = pair.publicKey.export({ format: 'jwk' })
      privateKey = pair.privateKey
      cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
        [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]
      ]))
    }
    const rawId = bend.again ? Buffer.from(bend.again.id, 'base64url') : randomBytes(16)
    const idLen = Buffer.alloc(2)
    idLen.writeUInt16BE(rawId.length)
    const authData = Buffer.concat([
      sha256(bend.rpId ?? rpId), Buffer.from([this.flags(bend, FLAG_AT)]), SoftAuthenticator.counterBytes(bend.counter ?? 0),
      Buffer.alloc(16), idLen, rawId, Buffer.from(cose)
    ])
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]) as never)
    const credential: SoftCredential = bend.again ?? { id: b64u(rawId), privateKey, rpId, userHandle: options.user.id, counter: bend.counter ?? 0, cose }
    if (!bend.again) this.credentials.push(credential)
    return {
      id: credential.id, rawId: credential.id, type: 'public-key', authenticatorAttachment: 'platform', clientExtensionResults: {},
      response: { clientDataJSON: this.clientData('webauthn.create', options.challenge, bend), attestationObject: b64u(attestationObject), transports: ['internal'] }
    }
  }

  /** `navigator.credentials.get`: with the given credential, else the first allowed one, else the first for the RP. */
  assert (options: RequestOptions, credential?: SoftCredential, bend: Bend = {}): Record<string, unknown> {
    const rpId = options.rpId ?? new URL(this.origin).hostname
    const allowed = new Set((options.allowCredentials ?? []).map(c => c.id))
    const cred = credential ?? this.credentials.find(c => c.rpId === rpId && (allowed.size === 0 || allowed.has(c.id)))
    if (!cred) throw new Error('no credential for this RP')
    cred.counter = bend.counter ?? cred.counter + 1
    const authData = Buffer.concat([sha256(bend.rpId ?? rpId), Buffer.from([this.flags(bend)]), SoftAuthenticator.counterBytes(cred.counter)])
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, bend)
    const signature = sign('sha256', Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]), (bend.signWith ?? cred).privateKey)
    const userHandle = bend.userHandle === undefined ? cred.userHandle : bend.userHandle
    return {
      id: cred.id, rawId: cred.id, type: 'public-key', authenticatorAttachment: 'platform', clientExtensionResults: {},
      response: { clientDataJSON, authenticatorData: b64u(authData), signature: b64u(signature), ...(userHandle === null ? {} : { userHandle }) }
    }
  }
}
