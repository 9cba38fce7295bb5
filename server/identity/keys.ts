import fs from 'node:fs/promises'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose'

/**
 * Ed25519 signing keys for access tokens, one JSON file each in `<dataDir>/keys/` (mode 0600).
 * The newest key signs; every key verifies, so rotation (`npm run keys:rotate`) never invalidates
 * tokens already issued. Keys retired longer ago than the longest token lifetime are pruned at rotation.
 */
export interface SigningKey { kid: string, createdAt: number, privateKey: CryptoKey, publicKey: CryptoKey, publicJwk: JWK }
interface KeyFile { kid: string, createdAt: number, jwk: JWK }

const keysDir = (dataDir: string) => path.join(dataDir, 'keys')

const readKeyFiles = async (dataDir: string): Promise<KeyFile[]> => {
  const dir = keysDir(dataDir)
  let names: string[]
  try { names = await fs.readdir(dir) } catch { return [] }
  const files: KeyFile[] = []
  for (const name of names.filter(n => n.endsWith('.json'))) {
    files.push(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as KeyFile)
  }
  return files.sort((a, b) => a.createdAt - b.createdAt)
}

const writeNewKey = async (dataDir: string): Promise<KeyFile> => {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
  const file: KeyFile = { kid: randomBytes(9).toString('base64url'), createdAt: Date.now(), jwk: await exportJWK(privateKey) }
  await fs.mkdir(keysDir(dataDir), { recursive: true, mode: 0o700 })
  await fs.writeFile(path.join(keysDir(dataDir), `${file.createdAt}-${file.kid}.json`), JSON.stringify(file), { mode: 0o600, flag: 'wx' })
  return file
}

const toSigningKey = async (f: KeyFile): Promise<SigningKey> => {
  const { d: _private, ...publicJwk } = f.jwk
  return {
    kid: f.kid,
    createdAt: f.createdAt,
    privateKey: await importJWK({ ...f.jwk, alg: 'EdDSA' }, 'EdDSA') as CryptoKey,
    publicKey: await importJWK({ ...publicJwk, alg: 'EdDSA' }, 'EdDSA') as CryptoKey,
    publicJwk: { ...publicJwk, kid: f.kid, alg: 'EdDSA', use: 'sig' }
  }
}

export class KeyRing {
  private constructor (private readonly dataDir: string, private keys: SigningKey[]) {}

  /** Loads the keys, creating the first one on a fresh data dir. */
  static async open (dataDir: string): Promise<KeyRing> {
    let files = await readKeyFiles(dataDir)
    if (files.length === 0) files = [await writeNewKey(dataDir)]
    return new KeyRing(dataDir, await Promise.all(files.map(toSigningKey)))
  }

  /** Re-reads the key files (after `keys:rotate`, on SIGHUP): the newest key signs from now on. */
  async reload (): Promise<{ active: string, keys: number }> {
    const files = await readKeyFiles(this.dataDir)
    if (files.length > 0) this.keys = await Promise.all(files.map(toSigningKey))
    return { active: this.active.kid, keys: this.keys.length }
  }

  get active (): SigningKey { return this.keys[this.keys.length - 1]! }
  byKid (kid: string | undefined): SigningKey | undefined { return this.keys.find(k => k.kid === kid) }
  jwks (): { keys: JWK[] } { return { keys: this.keys.map(k => k.publicJwk) } }
}

/**
 * Adds a new signing key (it signs from the next server start) and deletes keys that stopped signing
 * more than `keepMs` ago: no unexpired token can carry their kid any more.
 */
export const rotateKeys = async (dataDir: string, keepMs: number): Promise<{ added: string, removed: string[] }> => {
  const files = await readKeyFiles(dataDir)
  const added = await writeNewKey(dataDir)
  const removed: string[] = []
  // Key i stopped signing when key i+1 was created.
  for (let i = 0; i < files.length - 1; i++) {
    const [key, next] = [files[i]!, files[i + 1]!]
    if (Date.now() - next.createdAt > keepMs) {
      await fs.rm(path.join(keysDir(dataDir), `${key.createdAt}-${key.kid}.json`))
      removed.push(key.kid)
    }
  }
  return { added: added.kid, removed }
}
