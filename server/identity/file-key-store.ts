import fs from 'node:fs/promises'
import path from 'node:path'
import type { KeyStore, StoredKey } from './key-store.js'

/** One JSON file per key in `<dataDir>/keys/` (directory 0700, files 0600), named `<createdAt>-<kid>.json`. */
export class FileKeyStore implements KeyStore {
  constructor (private readonly dataDir: string) {}

  private get dir (): string { return path.join(this.dataDir, 'keys') }

  async list (): Promise<StoredKey[]> {
    let names: string[]
    try { names = await fs.readdir(this.dir) } catch { return [] }
    const keys: StoredKey[] = []
    for (const name of names.filter(n => n.endsWith('.json'))) {
      keys.push(JSON.parse(await fs.readFile(path.join(this.dir, name), 'utf8')) as StoredKey)
    }
    return keys.sort((a, b) => a.createdAt - b.createdAt)
  }

  async add (key: StoredKey): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    await fs.writeFile(path.join(this.dir, `${key.createdAt}-${key.kid}.json`), JSON.stringify(key), { mode: 0o600, flag: 'wx' })
  }

  async remove (kid: string): Promise<void> {
    const key = (await this.list()).find(k => k.kid === kid)
    if (key) await fs.rm(path.join(this.dir, `${key.createdAt}-${key.kid}.json`))
  }
}
