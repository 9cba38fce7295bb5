import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CloseCode } from '../../shared/protocol.js'
import { createLogger } from '../../server/observe/logger.js'
import { startServer, tempDir, waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, dropSessionEvents, PUBLIC_URL, REDIS_URL, type Node } from './nodes.js'
import { TcpGate } from './tcp-gate.js'
import { sessionDocUrl } from '../helpers/identity.js'

const cluster = clusterFixtures()


const sessionSocket = (node: Node, d: ClusterDevice) =>
  cluster.raw(sessionDocUrl(node.wsUrl, d))

describe('cluster: ended sessions close their sockets on every node', () => {
  it('a remote sign-out on node A closes the device\'s socket on node B within 1 s', async () => {
    const { a, b } = await cluster.nodesWithGate()
    const laptop = await ClusterDevice.signedIn(a.url, 'laptop')
    const phone = await laptop.another(a.url, 'phone')
    const onB = sessionSocket(b, phone)
    await waitFor(() => onB.synced, 5000, 'synced on B')
    const started = Date.now()
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    expect(await onB.closed).toBe(CloseCode.sessionEnded)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(onB.closeReason).toBe('device session ended: signed_out_elsewhere')
  })

  it('a sign-out while node B was cut off from Redis closes the socket on B when it reconnects', async () => {
    const { a, b, gate } = await cluster.nodesWithGate()
    const laptop = await ClusterDevice.signedIn(a.url, 'laptop')
    const phone = await laptop.another(a.url, 'phone')
    const onB = sessionSocket(b, phone)
    const laptopOnB = sessionSocket(b, laptop)
    await waitFor(() => onB.synced && laptopOnB.synced, 5000, 'synced on B')
    gate.cut()
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    expect(onB.closeCode).toBeNull() // B has not heard of it
    gate.restore()
    expect(await onB.closed).toBe(CloseCode.sessionEnded)
    expect(onB.closeReason).toBe('device session ended: signed_out_elsewhere')
    expect(laptopOnB.closeCode).toBeNull()
  })

  it('a sign-out made on node B while B was cut off from Redis reaches node A when B reconnects', async () => {
    const redisPrefix = cluster.prefix()
    const target = new URL(REDIS_URL)
    const gate = await TcpGate.start({ host: target.hostname, port: Number(target.port || 6379) })
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const logs: string[] = []
    const sink = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
    const b = await startServer({ insecureNoAuth: false, store: 'postgres', databaseUrl: cluster.db.url, dataDir: await tempDir(), publicUrl: PUBLIC_URL,
      redisUrl: `redis://127.0.0.1:${gate.port}`, redisPrefix, logLevel: 'warn' }, { logger: createLogger('warn', sink) })
    cluster.onCleanup(async () => { gate.restore(); await b.close(); await gate.close() })
    const laptop = await ClusterDevice.signedIn(b.url, 'laptop')
    const phone = await laptop.another(a.url, 'phone')
    const onA = sessionSocket(a, phone)
    await waitFor(() => onA.synced, 5000, 'synced on A')
    gate.cut()
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    await waitFor(() => logs.some(l => l.includes('could not publish a session event to Redis')), 10_000, 'B to give up publishing')
    expect(onA.closeCode).toBeNull() // A has not heard of it
    gate.restore()
    expect(await onA.closed).toBe(CloseCode.sessionEnded)
    expect(onA.closeReason).toBe('device session ended: signed_out_elsewhere')
  })

  it('when the events B missed were trimmed from the stream meanwhile, B re-checks its sockets against the store', async () => {
    const { a, b, gate, redisPrefix } = await cluster.nodesWithGate()
    const laptop = await ClusterDevice.signedIn(a.url, 'laptop')
    const phone = await laptop.another(a.url, 'phone')
    const onB = sessionSocket(b, phone)
    const laptopOnB = sessionSocket(b, laptop)
    await waitFor(() => onB.synced && laptopOnB.synced, 5000, 'synced on B')
    gate.cut()
    expect((await phone.api('POST', '/auth/logout')).status).toBe(204)
    // The stream's retention ran out while B was away: the logout event is gone from it.
    expect(await dropSessionEvents(redisPrefix)).toBeGreaterThan(0)
    gate.restore()
    expect(await onB.closed).toBe(CloseCode.sessionEnded)
    expect(onB.closeReason).toBe('device session ended: logout')
    expect(laptopOnB.closeCode).toBeNull()
  })
})
