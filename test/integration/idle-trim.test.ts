import { describe, expect, it } from 'vitest'
import { serverFixtures, waitFor } from '../helpers/server.js'

/**
 * The idle trim (server/observe/idle-trim.ts): one low-memory collection per burst of activity, once
 * the server has been quiet for --idle-trim-ms; none while it stays quiet or is only monitored.
 */
const { start, raw } = serverFixtures()
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

describe('idle trim', () => {
  it('collects once after each burst, never while quiet or only scraped, and the server keeps serving', async () => {
    const s = await start({ idleTrimMs: 150 })
    const trims = async () => (await s.metrics.idleTrims.get()).values[0]?.value ?? 0
    await sleep(600)
    expect(await trims(), 'nothing happened yet: nothing to give back').toBe(0)

    const a = raw(`${s.wsUrl}/doc`)
    const b = raw(`${s.wsUrl}/doc`)
    await waitFor(() => a.synced && b.synced)
    a.doc.getMap('m').set('k', 1)
    await waitFor(() => b.doc.getMap('m').get('k') === 1)
    await waitFor(async () => (await trims()) === 1, 3000, 'a trim after the burst')
    const pause = (await s.metrics.idleTrimSeconds.get()).values[0]?.value ?? 0
    expect(pause, 'the last trim\'s pause is reported').toBeGreaterThan(0)
    expect(pause).toBeLessThan(5)

    // Quiet, apart from monitoring: no further trims.
    for (let i = 0; i < 4; i++) {
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200)
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
      await sleep(150)
    }
    expect(await trims()).toBe(1)

    // The next burst: it is served as before, and trimmed once more.
    b.doc.getMap('m').set('k', 2)
    await waitFor(() => a.doc.getMap('m').get('k') === 2)
    await waitFor(async () => (await trims()) === 2, 3000, 'a trim after the second burst')
    await sleep(600)
    expect(await trims()).toBe(2)
  })

  it('is off with 0', async () => {
    const s = await start({ idleTrimMs: 0 })
    const a = raw(`${s.wsUrl}/doc`)
    await waitFor(() => a.synced)
    a.doc.getMap('m').set('k', 1)
    await sleep(500)
    expect((await s.metrics.idleTrims.get()).values[0]?.value ?? 0).toBe(0)
  })
})
