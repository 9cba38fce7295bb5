import { DEVICE_CODE_GRANT_TYPE } from '../../shared/device-code.js'

/** JSON schemas for every request body: validated at the edge, unknown properties refused. */
const str = (minLength: number, maxLength: number) => ({ type: 'string', minLength, maxLength })
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)) =>
  ({ type: 'object', additionalProperties: false, properties, required })

// Checked and brought to one spelling by server/identity/email.ts; the schema only bounds the size.
const email = str(1, 320)
const password = str(1, 256)
const code = str(6, 32)
const device = obj({ name: str(1, 64), platform: str(1, 32) })
// A credential ID is at most 1023 bytes: 1364 base64url characters.
const credentialId = str(1, 1364)
/** WebAuthn's JSON form of a credential (as @simplewebauthn/browser sends it), `response` per ceremony. */
const credential = (response: Record<string, unknown>, required: string[]) => obj({
  id: credentialId,
  rawId: credentialId,
  type: { type: 'string', enum: ['public-key'] },
  response: obj(response, required),
  authenticatorAttachment: { type: 'string', maxLength: 32 },
  // Extension outputs are the browser's to define: any object, bounded by the body limit.
  clientExtensionResults: { type: 'object' }
}, ['id', 'rawId', 'type', 'response'])
const registration = credential({
  clientDataJSON: str(1, 4096),
  attestationObject: str(1, 16384),
  authenticatorData: str(1, 16384),
  transports: { type: 'array', maxItems: 8, items: str(1, 32) },
  publicKeyAlgorithm: { type: 'integer' },
  publicKey: str(1, 4096)
}, ['clientDataJSON', 'attestationObject'])
const assertion = credential({
  clientDataJSON: str(1, 4096),
  authenticatorData: str(1, 16384),
  signature: str(1, 2048),
  userHandle: str(0, 128)
}, ['clientDataJSON', 'authenticatorData', 'signature'])

export const Schemas = {
  register: obj({ email, password }),
  login: obj({ email, password, device }),
  mfaVerify: obj({ mfaToken: str(10, 4096), code }),
  refresh: obj({ refreshToken: str(20, 200) }),
  code: obj({ code }),
  password: obj({ current: password, next: password }),
  title: obj({ title: str(1, 200) }),
  member: obj({ email, role: { type: 'string', enum: ['editor', 'viewer'] } }),
  idParam: obj({ id: str(1, 64) }),
  memberParams: obj({ id: str(1, 64), userId: str(1, 64) }),
  // RFC 8628 clients may send their `client_id`: it is accepted and not used.
  deviceCode: obj({ device, client_id: str(1, 128) }, ['device']),
  deviceToken: obj({ grant_type: { type: 'string', enum: [DEVICE_CODE_GRANT_TYPE] }, device_code: str(20, 128), client_id: str(1, 128) }, ['grant_type', 'device_code']),
  userCode: obj({ user_code: str(1, 32) }),
  passkeyRegister: obj({ response: registration, name: str(1, 64) }, ['response']),
  passkeyLogin: obj({ attemptId: str(1, 64), response: assertion, device }),
  passkeyStepUp: obj({ response: assertion }),
  passkeyRename: obj({ name: str(1, 64) }),
  passkeyParam: obj({ id: credentialId }),
  // The server-side document API: patch operations or one base64 Yjs update (checked by the handler: exactly one).
  sessionDocPatch: obj({
    ops: { type: 'array', minItems: 1, maxItems: 100, items: obj({ op: { type: 'string', enum: ['set', 'delete'] }, path: str(3, 256), value: {} }, ['op', 'path']) },
    update: { type: 'string', minLength: 4, maxLength: 60_000, pattern: '^[A-Za-z0-9+/]+={0,2}$' }
  }, []),
  alertParam: obj({ id: str(1, 64) }),
  // Query strings arrive as strings: numbers and dates are parsed (and refused) by the routes.
  adminUserQuery: obj({ prefix: str(0, 320), after: str(1, 320), limit: str(1, 4) }, []),
  securityEventQuery: obj({ userId: str(1, 64), kind: str(1, 400), since: str(1, 40), until: str(1, 40), before: str(1, 64), limit: str(1, 4) }, []),
  analyticsQuery: obj({ from: str(10, 10), to: str(10, 10), bucket: { type: 'string', enum: ['day'] } }, [])
} as const
