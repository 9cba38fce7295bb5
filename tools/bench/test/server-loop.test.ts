import { describe, expect, it } from 'vitest'
import { loopStatsBetween, scrapeLoop } from '../server-loop.js'
import { serverFixtures } from '../../../test/helpers/server.js'

/** The bench's per-step reading of our server's own event loop (tools/bench/server-loop.ts). */
describe('bench: server loop stalls and GC pauses from /metrics', () => {
  const { start } = serverFixtures()

  it('reads a stall of the server\'s loop, in the window between two scrapes only', async () => {
    const server = await start()
    await scrapeLoop(server.url) // opens a fresh window
    await new Promise(resolve => setTimeout(resolve, 100)) // real time: the loop monitor takes samples every 10 ms
    const quiet = loopStatsBetween(await scrapeLoop(server.url), await scrapeLoop(server.url))
    expect(quiet).not.toBeNull()

    const before = await scrapeLoop(server.url)
    const windowStart = performance.now()
    // Real time is the subject here: the loop monitor samples every 10 ms, so it needs a few samples
    // around the stall to see it.
    await new Promise(resolve => setTimeout(resolve, 50))
    const until = Date.now() + 200
    let garbage: number[][] = []
    while (Date.now() < until) { // the server runs in this process: its loop stands still too
      garbage.push(new Array<number>(64).fill(garbage.length)) // young garbage: scavenges run during the stall
      if (garbage.length > 10_000) garbage = []
    }
    await new Promise(resolve => setTimeout(resolve, 50))
    const stalled = loopStatsBetween(before, await scrapeLoop(server.url))!
    const windowMs = performance.now() - windowStart
    expect(stalled.maxStallMs).toBeGreaterThanOrEqual(150)
    expect(stalled.maxStallMs).toBeLessThan(1000)
    // The collections the allocation forced are in the window, and no longer than the window.
    expect(stalled.gcMs).toBeGreaterThan(0)
    expect(stalled.gcMs).toBeLessThan(windowMs)
    expect(Number.isInteger(stalled.gcSlow)).toBe(true)
    expect(stalled.gcSlow * 10).toBeLessThanOrEqual(stalled.gcMs + 1) // each slow pause took ≥ 10 ms of gcMs

    // The stall belongs to that window: the next one starts fresh (after some samples of real time).
    await new Promise(resolve => setTimeout(resolve, 100))
    const after = loopStatsBetween(await scrapeLoop(server.url), await scrapeLoop(server.url))!
    expect(after.maxStallMs).toBeLessThan(stalled.maxStallMs) // the stall is not in it
  })

  it('gives nothing for a target without our /metrics', async () => {
    expect(await scrapeLoop('http://127.0.0.1:1')).toBeNull()
    const server = await start()
    expect(await scrapeLoop(`${server.url}/healthz#`)).toBeNull()
  })
})
