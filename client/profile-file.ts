/**
 * Node profile store: a private directory holding key.json and tokens.json (both 0600), a lock file
 * for refreshes and, next to them, the document cache. Node has no non-extractable key storage, so
 * the private JWK lives in the file; the directory and file permissions are what protect it.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { importJWK, exportJWK, type JWK } from 'jose'
import type { TokenResponse } from '../shared/api.js'
import type { DeviceKey, ProfileStore } from './profile-store.js'

const LOCK_STALE_MS = 10_000
const LOCK_WAIT_MS = 30_000

/** Write via a temp file and rename, so a crash never leaves a half-written token file behind. */
const writePrivate = async (file: string, data: string): Promise<void> => {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await fs.writeFile(tmp, data, { mode: 0o600 })
  await fs.rename(tmp, file)
}

/** A corrupt file is reported by name only: parse errors quote the text around the fault, a token here. */
const readJson = async <T>(file: string): Promise<T | null> => {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    return JSON.parse(text) as T
  } catch {
    throw new Error(`profile file ${file} is not valid JSON: delete it (tokens.json: sign in again; key.json: this device gets a new key)`)
  }
}

interface KeyFile { privateJwk: JWK, publicJwk: JWK }

export class FileProfileStore implements ProfileStore {
  readonly id: string
  readonly needsExtractableKey = true
  readonly dir: string

  constructor (dir: string) {
    this.dir = path.resolve(dir)
    // The id must be the same for every instance opening this directory (it keys the in-process lock).
    this.id = 'file:' + createHash('sha256').update(this.dir).digest('hex').slice(0, 16)
  }

  /** Where document caches of this profile live. */
  get cacheDir () { return path.join(this.dir, 'cache') }
  private file (name: string) { return path.join(this.dir, name) }
  private async ensureDir () { await fs.mkdir(this.dir, { recursive: true, mode: 0o700 }) }

  async getKey (): Promise<DeviceKey | null> {
    const k = await readJson<KeyFile>(this.file('key.json'))
    if (!k) return null
    return { privateKey: await importJWK(k.privateJwk, 'ES256', { extractable: false }) as CryptoKey, publicJwk: k.publicJwk }
  }

  async setKey (key: DeviceKey): Promise<void> {
    await this.ensureDir()
    const privateJwk = await exportJWK(key.privateKey)
    await writePrivate(this.file('key.json'), JSON.stringify({ privateJwk, publicJwk: key.publicJwk } satisfies KeyFile))
  }

  getTokens (): Promise<TokenResponse | null> { return readJson<TokenResponse>(this.file('tokens.json')) }

  async setTokens (tokens: TokenResponse | null): Promise<void> {
    if (!tokens) { await fs.rm(this.file('tokens.json'), { force: true }); return }
    await this.ensureDir()
    await writePrivate(this.file('tokens.json'), JSON.stringify(tokens))
  }

  /** Removes the whole profile directory: key, tokens and (already closed) caches. */
  async wipe (): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true })
  }

  /** O_EXCL lock file; a holder that died leaves it behind, so one older than 10 s is taken over. */
  async withLock<T> (fn: () => Promise<T>): Promise<T> {
    await this.ensureDir()
    const lock = this.file('refresh.lock')
    const deadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      try {
        const h = await fs.open(lock, 'wx', 0o600)
        await h.writeFile(String(process.pid))
        await h.close()
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const st = await fs.stat(lock).catch(() => null)
        if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) { await fs.rm(lock, { force: true }); continue }
        if (Date.now() > deadline) throw new Error(`profile lock ${lock} busy for ${LOCK_WAIT_MS} ms`, { cause: err })
        await new Promise(r => setTimeout(r, 20 + Math.random() * 30))
      }
    }
    try {
      return await fn()
    } finally {
      await fs.rm(lock, { force: true })
    }
  }
}
