import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { findListeningPid, sampleProcess } from '../proc.js'
import { startChildServer, type ChildServer } from '../../../test/helpers/child-server.js'
import { tempDir } from '../../../test/helpers/server.js'

const children: ChildServer[] = []
const servers: net.Server[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL')
  for (const s of servers.splice(0)) s.close()
})
const listen = async () => {
  const s = net.createServer()
  servers.push(s)
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  return (s.address() as net.AddressInfo).port
}

describe('the load tool finds a local server by its port', () => {
  it('names the process listening on the port: this one, and a server in a child process', async () => {
    expect(findListeningPid(await listen())).toBe(process.pid)
    const child = await startChildServer(['--data-dir', await tempDir(), '--insecure-no-auth'])
    children.push(child)
    const pid = findListeningPid(Number(new URL(child.url).port))
    expect(pid).toBe(child.proc.pid)
    expect(sampleProcess(pid!)!.rssMb).toBeGreaterThan(10)
  })

  it('answers null for a port nobody listens on', async () => {
    const port = await listen()
    const s = servers.pop()!
    await new Promise(resolve => s.close(resolve))
    expect(findListeningPid(port)).toBeNull()
  })
})
