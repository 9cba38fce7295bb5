import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { Redis } from 'ioredis'
import { waitFor } from '../helpers/server.js'

/** A port nothing listens on right now (the OS picks it). */
const freePort = async (): Promise<number> => {
  const srv = net.createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as net.AddressInfo
  await new Promise(resolve => srv.close(resolve))
  return port
}

export interface OwnRedis {
  url: string
  port: number
  stop (): Promise<void>
  /** SIGSTOP: connections stay open and nothing is answered, as when the network drops packets. */
  pause (): void
  /** SIGCONT: answers again, the backlog first. */
  resume (): void
}

/** A `redis-server` of the test's own on a free port, without persistence: for tests that stop Redis. */
export const startOwnRedis = async (): Promise<OwnRedis> => {
  const port = await freePort()
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {}) // refused until the server is up: the probe's connect() says so
  try {
    await waitFor(async () => {
      try { await probe.connect(); return await probe.ping() === 'PONG' } catch { probe.disconnect(); return false }
    }, 10_000, `redis-server on port ${port}`)
  } finally {
    probe.disconnect()
  }
  return {
    url,
    port,
    async stop () {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await exited
    },
    pause () { proc.kill('SIGSTOP') },
    resume () { proc.kill('SIGCONT') }
  }
}
