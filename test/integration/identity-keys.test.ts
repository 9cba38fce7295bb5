import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeProtectedHeader } from 'jose'
import { rotateKeys } from '../../server/identity/keys.js'
import { startIdentityServer, signedInDevice } from '../helpers/identity.js'
import { tempDir } from '../helpers/server.js'

describe('signing key rotation', () => {
  it('a rotated key signs after restart; tokens signed by the old key keep working until pruned', async () => {
    const dataDir = await tempDir()
    let app = await startIdentityServer({ dataDir })
    const d = await signedInDevice(app.url)
    const oldKid = decodeProtectedHeader(d.tokens.accessToken).kid
    await app.close()

    const { added, removed } = await rotateKeys(dataDir, 10 * 60_000)
    expect(removed).toEqual([])
    const files = await fs.readdir(path.join(dataDir, 'keys'))
    expect(files).toHaveLength(2)
    for (const f of files) expect((await fs.stat(path.join(dataDir, 'keys', f))).mode & 0o077).toBe(0)

    app = await startIdentityServer({ dataDir })
    d.baseUrl = app.url // a new port after restart
    try {
      expect((await d.api('GET', '/sessions')).status).toBe(200) // old kid still verifies
      expect((await d.refresh()).status).toBe(200)
      expect(decodeProtectedHeader(d.tokens.accessToken).kid).toBe(added)
      const jwks = await d.call('GET', '/.well-known/jwks.json')
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([oldKid, added])
    } finally {
      await app.close()
    }
    // A running server picks up a rotation without a restart (SIGHUP in production).
    const third = await rotateKeys(dataDir, 10 * 60_000)
    app = await startIdentityServer({ dataDir })
    d.baseUrl = app.url
    try {
      const before = await d.api('GET', '/sessions')
      expect(before.status).toBe(200)
      const rotated = await rotateKeys(dataDir, 10 * 60_000)
      expect(await app.identity!.reloadKeys()).toEqual({ active: rotated.added, keys: 4 })
      expect((await d.refresh()).status).toBe(200)
      expect(decodeProtectedHeader(d.tokens.accessToken).kid).toBe(rotated.added)
      expect(third.added).not.toBe(rotated.added)
    } finally {
      await app.close()
    }
    // Once the old key has not signed for longer than any token lives, the next rotation prunes it.
    const second = await rotateKeys(dataDir, 0)
    expect(second.removed).toEqual([oldKid, added, third.added]) // all but the newest of the four
  })
})
