import { hash, verify } from '@node-rs/argon2'

/** OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). */
const ARGON2 = { algorithm: 2 /* Algorithm.Argon2id: a const enum, not importable under isolatedModules */, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 256

/** A short list of the most common passwords of 10+ characters (the policy's length rule catches the rest). */
const COMMON = new Set([
  '1234567890', '0123456789', '1q2w3e4r5t', 'qwertyuiop', '1qaz2wsx3edc', 'password12', 'password123', 'password1234',
  'iloveyou12', 'qwerty1234', 'qwerty12345', 'abcdefghij', 'abc1234567', 'letmein123', 'welcome123', 'administrator',
  'passw0rd12', 'football12', 'baseball12', 'sunshine12', 'princess12', 'trustno1234', 'superman12', 'michael123',
  'changeme12', 'qazwsxedcr', 'zaq12wsxcde', 'asdfghjkl1', 'aaaaaaaaaa', '1111111111', '0000000000', '1234512345',
  'monkey1234', 'dragon1234', 'master1234', 'starwars12', 'whatever12', 'computer12', 'internet12', 'samsung123'
])

/** Why a password is refused, or null when it passes the policy. */
export const passwordProblem = (password: string): string | null => {
  if (password.length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`
  if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`
  if (COMMON.has(password.toLowerCase())) return 'password is too common'
  if (new Set(password).size < 4) return 'password is too repetitive'
  return null
}

export const hashPassword = (password: string): Promise<string> => hash(password, ARGON2)

// Unknown accounts are checked against this so a wrong email costs the same time as a wrong password.
let dummyHash: Promise<string> | null = null

export const verifyPassword = async (stored: string | undefined, password: string): Promise<boolean> => {
  if (!stored) {
    dummyHash ??= hashPassword('not-a-real-password-0')
    await verify(await dummyHash, password).catch(() => false)
    return false
  }
  return verify(stored, password).catch(() => false)
}
