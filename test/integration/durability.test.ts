import { afterEach, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'
import { CloseCode } from '../../shared/protocol.js'

const children: ChildServer[] = []
const clients: RawClient[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const c of children.splice(0)) c.proc.kill('SIGKILL')
})
const start = async (dataDir: string, extra: string[] = []) => {
  const c = await startChildServer(['--data-dir', dataDir, '--insecure-no-auth', '--log-level', 'info', ...extra])
  children.push(c)
  return c
}
const raw = (url: string) => { const c = new RawClient(url); clients.push(c); return c }

/** Write `n` edits through one device and wait until a second device saw all of them (so the server applied them). */
const writeEdits = async (server: ChildServer, doc: string, n: number) => {
  const writer = raw(`${server.wsUrl}/${doc}`)
  const observer = raw(`${server.wsUrl}/${doc}`)
  await waitFor(() => writer.synced && observer.synced)
  for (let i = 0; i < n; i++) writer.doc.getArray<number>('a').push([i])
  await waitFor(() => observer.doc.getArray('a').length === n, 10_000, 'observer received every edit')
  return { writer, observer }
}

const readBack = async (server: ChildServer, doc: string) => {
  const reader = raw(`${server.wsUrl}/${doc}`)
  await waitFor(() => reader.synced, 10_000, 'reader synced')
  return reader.doc.getArray<number>('a').toArray()
}

describe('durability (server in a child process)', { timeout: 120_000 }, () => {
  it('SIGKILL after the documented batch window loses nothing', async () => {
    const dataDir = await tempDir()
    const flushMs = 10
    const first = await start(dataDir, ['--flush-ms', String(flushMs)])
    await writeEdits(first, 'crashy', 300)
    // Real time is the subject: the documented window, plus a margin wide enough for the write
    // itself on a loaded machine.
    await new Promise(r => setTimeout(r, flushMs + 2000))
    first.proc.kill('SIGKILL')
    await first.exited
    const second = await start(dataDir)
    const items = await readBack(second, 'crashy')
    expect(items).toHaveLength(300)
    expect(items).toEqual(Array.from({ length: 300 }, (_, i) => i))
  })

  it('graceful SIGTERM flushes everything, even with a long batch window, and closes sockets with 1001', async () => {
    const dataDir = await tempDir()
    // The shutdown deadline is not the subject: wide enough for a loaded machine.
    const first = await start(dataDir, ['--flush-ms', '60000', '--shutdown-timeout-ms', '60000'])
    const { writer } = await writeEdits(first, 'graceful', 500)
    first.proc.kill('SIGTERM')
    expect(await writer.closed).toBe(CloseCode.goingAway)
    expect(await first.exited).toBe(0)
    expect(first.logs.join('\n')).toMatch(/shut down cleanly/)
    const second = await start(dataDir)
    expect(await readBack(second, 'graceful')).toHaveLength(500)
  })

  it('starts with identity on by default: documents need a token, the API answers', async () => {
    const dataDir = await tempDir()
    const c = await startChildServer(['--data-dir', dataDir, '--log-level', 'info'], { SYNC_INSECURE_NO_AUTH: '' })
    try {
      const res = await fetch(`${c.url}/.well-known/jwks.json`)
      expect(res.status).toBe(200)
      expect((await res.json() as { keys: Array<{ kty: string, crv: string }> }).keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
      expect(c.logs.join('\n')).not.toMatch(/INSECURE/)
      const sessions = await fetch(`${c.url}/sessions`)
      expect(sessions.status).toBe(401)
    } finally {
      c.proc.kill('SIGTERM')
      await c.exited
    }
  })
})
