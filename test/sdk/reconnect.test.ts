import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { SwitchProxy } from '../helpers/switch-proxy.js'
import { fixture } from './helpers.js'

// The provider's reconnect backoff as an app sees it: when the next attempt runs, and "retry now".
const f = fixture()
const proxies: SwitchProxy[] = []
afterEach(async () => {
  await f.cleanup()
  for (const p of proxies.splice(0)) await p.close()
})

describe('sdk reconnect', () => {
  it('exposes the next retry time while the server is unreachable, and retryNow skips the wait', async () => {
    const s = await f.server()
    const proxy = await SwitchProxy.start(s.url)
    proxies.push(proxy)
    // A backoff far longer than the test: only retryNow can bring the document back in time.
    const c = await f.client(proxy.url, { anonymous: true, backoff: { baseMs: 600_000, maxMs: 600_000 } })
    const d = await c.openDoc('retry-doc')
    await d.whenSynced()
    expect(d.nextRetryAt).toBeNull()
    const retries: Array<number | null> = []
    d.on('retry', at => retries.push(at))

    proxy.down()
    await waitFor(() => d.nextRetryAt !== null, 20_000, 'a scheduled retry')
    expect(d.status).toBe('offline')
    expect(d.nextRetryAt!).toBeGreaterThan(Date.now() + 60_000)
    expect(retries.at(-1)).toBe(d.nextRetryAt)

    // Still down: the attempt fails and a new retry is scheduled.
    const first = d.nextRetryAt
    d.retryNow()
    await waitFor(() => d.nextRetryAt !== null && d.nextRetryAt !== first, 20_000, 'the next retry after a failed attempt')

    proxy.up()
    d.retryNow()
    await waitFor(() => d.status === 'synced', 20_000, 'synced after retry now')
    expect(d.nextRetryAt).toBeNull()
    expect(retries).toContain(null)
    // Connected: nothing to retry, retryNow is a no-op.
    d.retryNow()
    expect(d.status).toBe('synced')
  })
})
