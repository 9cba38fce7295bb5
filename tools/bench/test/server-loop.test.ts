import { describe, expect, it } from 'vitest'
import { loopStatsBetween, scrapeLoop } from '../server-loop.js'
import { serverFixtures } from '../../../test/helpers/server.js'

/** The bench's per-step reading of our server's own event loop (tools/bench/server-loop.ts). */
describe('bench: server loop stalls and GC pauses from /metrics', () => {
  const { start } = serverFixtures()

  it('reads a stall of the server\'s loop, in the window between two scrapes only', async () => {
    const server = await start()
    await scrapeLoop(server.url) // opens a fresh window
    await new Promise(resolve => setTimeout(resolve, 100))
    const quiet = loopStatsBetween(await scrapeLoop(server.url), await scrapeLoop(server.url))
    expect(quiet).not.toBeNull()

    const before = await scrapeLoop(server.url)
    await new Promise(resolve => setTimeout(resolve, 50))
    const until = Date.now() + 200
    while (Date.now() < until) { /* the server runs in this process: its loop stands still too */ }
    await new Promise(resolve => setTimeout(resolve, 50))
    const stalled = loopStatsBetween(before, await scrapeLoop(server.url))!
    expect(stalled.maxStallMs).toBeGreaterThanOrEqual(150)
    expect(stalled.maxStallMs).toBeLessThan(1000)
    expect(stalled.gcMs).toBeGreaterThanOrEqual(0)
    expect(stalled.gcSlow).toBeGreaterThanOrEqual(0)

    // The stall belongs to that window: the next one starts fresh.
    await new Promise(resolve => setTimeout(resolve, 100))
    const after = loopStatsBetween(await scrapeLoop(server.url), await scrapeLoop(server.url))!
    expect(after.maxStallMs).toBeLessThan(120) // the 190 ms stall is not in it
  })

  it('gives nothing for a target without our /metrics', async () => {
    expect(await scrapeLoop('http://127.0.0.1:1')).toBeNull()
    const server = await start()
    expect(await scrapeLoop(`${server.url}/healthz#`)).toBeNull()
  })
})
