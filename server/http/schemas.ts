/** JSON schemas for every request body: validated at the edge, unknown properties refused. */
const str = (minLength: number, maxLength: number) => ({ type: 'string', minLength, maxLength })
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)) =>
  ({ type: 'object', additionalProperties: false, properties, required })

// Checked and brought to one spelling by server/identity/email.ts; the schema only bounds the size.
const email = str(1, 320)
const password = str(1, 256)
const code = str(6, 32)

export const Schemas = {
  register: obj({ email, password }),
  login: obj({ email, password, device: obj({ name: str(1, 64), platform: str(1, 32) }) }),
  mfaVerify: obj({ mfaToken: str(10, 4096), code }),
  refresh: obj({ refreshToken: str(20, 200) }),
  code: obj({ code }),
  password: obj({ current: password, next: password }),
  title: obj({ title: str(1, 200) }),
  member: obj({ email, role: { type: 'string', enum: ['editor', 'viewer'] } }),
  idParam: obj({ id: str(1, 64) }),
  memberParams: obj({ id: str(1, 64), userId: str(1, 64) })
} as const
