import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir, waitFor } from '../helpers/server.js'

const root = path.resolve(import.meta.dirname, '../..')
const children: ChildServer[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

const kids = async (url: string) => {
  const jwks = await (await fetch(`${url}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> }
  return jwks.keys.map(k => k.kid).sort()
}

describe('signing key rotation on a running server (CLI + SIGHUP)', { timeout: 120_000 }, () => {
  it('keys:rotate adds a key that the server publishes after SIGHUP, without a restart', async () => {
    const dataDir = await tempDir()
    const server = await startChildServer(['--data-dir', dataDir, '--log-level', 'info'])
    children.push(server)
    const before = await kids(server.url)
    expect(before).toHaveLength(1)

    // The documented command, run beside the live server on the same data dir.
    await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'server/main.ts'), 'keys:rotate', '--data-dir', dataDir], { cwd: root })
    expect(await kids(server.url)).toEqual(before) // not picked up until told

    server.proc.kill('SIGHUP')
    await waitFor(async () => (await kids(server.url)).length === 2, 10_000, 'the new key is published')
    const after = await kids(server.url)
    expect(after).toEqual(expect.arrayContaining(before))
    expect(server.logs.join('\n')).toMatch(/signing keys reloaded/)
    expect(server.proc.exitCode).toBeNull() // SIGHUP did not stop it
  })
})
