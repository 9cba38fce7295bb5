import { describe, expect, it } from 'vitest'
import { serverFixtures, waitFor, type startServer } from '../helpers/server.js'
import type { RawClient } from '../helpers/raw-client.js'

type Server = Awaited<ReturnType<typeof startServer>>
const { start, raw } = serverFixtures()
const metric = async (s: Server, name: string) => {
  const text = await (await fetch(`${s.url}/metrics`)).text()
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN)
}
/** A peer that vanished without a FIN: its socket stays open but nothing it receives is ever read, so it never answers a ping. */
const goSilent = (c: RawClient) => c.ws.pause()

describe('dead-peer detection (ping/pong)', () => {
  it('drops a socket that stops answering pings, keeps the live one serving, and counts the drop', async () => {
    // Real time is the subject. The live peer runs in this process: if the loop stands still for a whole
    // interval right after a ping, its pong is late and it is dropped too, so the interval is wide.
    const intervalMs = 1000
    const s = await start({ pingIntervalMs: intervalMs })
    const live = raw(`${s.wsUrl}/doc`)
    const dead = raw(`${s.wsUrl}/doc`)
    await waitFor(() => live.synced && dead.synced)
    expect(await metric(s, 'sync_connections')).toBe(2)
    let pings = 0
    live.ws.on('ping', () => { pings++ })
    goSilent(dead)
    await waitFor(async () => await metric(s, 'sync_connections') === 1, 2 * intervalMs + 10_000, 'the silent socket dropped')
    expect(await metric(s, 'sync_dead_connections_total')).toBe(1)
    // More rounds: the live socket answers every ping and is never dropped.
    const seen = pings
    await waitFor(() => pings >= seen + 2, 2 * intervalMs + 10_000, 'two more ping rounds')
    expect(await metric(s, 'sync_connections')).toBe(1)
    const other = raw(`${s.wsUrl}/doc`)
    await waitFor(() => other.synced)
    other.doc.getText('t').insert(0, 'still here')
    await waitFor(() => live.text() === 'still here', 3000, 'the live socket still receives')
    expect(await metric(s, 'sync_dead_connections_total')).toBe(1)
  })

  it('drops nothing when turned off (0)', async () => {
    const s = await start({ pingIntervalMs: 0 })
    const silent = raw(`${s.wsUrl}/doc`)
    // The clock for "nothing happened": a server pinging every 100 ms drops its own silent socket,
    // which takes at least two of its rounds.
    const reference = await start({ pingIntervalMs: 100 })
    const referenceSilent = raw(`${reference.wsUrl}/doc`)
    await waitFor(() => silent.synced && referenceSilent.synced)
    goSilent(silent)
    goSilent(referenceSilent)
    await waitFor(async () => await metric(reference, 'sync_dead_connections_total') === 1, 10_000, 'the reference server dropped its silent socket')
    expect(await metric(s, 'sync_connections')).toBe(1)
    expect(await metric(s, 'sync_dead_connections_total')).toBe(0)
  })
})
