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
    // Rounds far enough apart that a busy test machine still reads a live peer's pong within one.
    const s = await start({ pingIntervalMs: 250 })
    const live = raw(`${s.wsUrl}/doc`)
    const dead = raw(`${s.wsUrl}/doc`)
    await waitFor(() => live.synced && dead.synced)
    expect(await metric(s, 'sync_connections')).toBe(2)
    let pings = 0
    live.ws.on('ping', () => { pings++ })
    goSilent(dead)
    await waitFor(async () => await metric(s, 'sync_connections') === 1, 5000, 'the silent socket dropped')
    expect(await metric(s, 'sync_dead_connections_total')).toBe(1)
    // Several more rounds: the live socket answers every ping and is never dropped.
    const seen = pings
    await waitFor(() => pings >= seen + 4, 5000, 'four more ping rounds')
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
    await waitFor(() => silent.synced)
    goSilent(silent)
    await new Promise(r => setTimeout(r, 400))
    expect(await metric(s, 'sync_connections')).toBe(1)
    expect(await metric(s, 'sync_dead_connections_total')).toBe(0)
  })
})
