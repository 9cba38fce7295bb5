/**
 * Connection feedback in the demo app: the server becomes unreachable (a TCP proxy in front of it is
 * switched off), both devices say so with a live retry countdown, "Retry now" reconnects at once,
 * the status badge does not flicker through failed attempts, and a rate-limited sign-in states the
 * server's real wait.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { SwitchProxy } from '../helpers/switch-proxy.js'
import { PASSWORD, signIn, signUp, topStatus } from '../helpers/demo.js'
import { formatWait } from '../../demo/src/backend.js'
import { ensureDemoBuilt } from '../../demo/build.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

interface Device { context: BrowserContext, page: Page }
const ALICE = 'alice-conn@example.com'

const banner = (page: Page) => page.getByTestId('connection-banner')
const retryIn = (page: Page) => page.getByTestId('retry-in').getAttribute('data-seconds').then(Number)

/** Records every status the top bar's badge shows, from now on. */
const recordStatuses = (page: Page) => page.evaluate(() => {
  const badge = document.querySelector('.topbar [data-testid="sync-status"]')!
  const seen: string[] = []
  ;(window as unknown as { statuses: string[] }).statuses = seen
  new MutationObserver(() => seen.push(badge.getAttribute('data-status') ?? '')).observe(badge, { attributes: true, attributeFilter: ['data-status'] })
})
const statuses = (page: Page) => page.evaluate(() => (window as unknown as { statuses: string[] }).statuses.splice(0))

describe.skipIf(!chromiumAvailable())('demo: connection feedback', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  let proxy: SwitchProxy
  let browser: Browser
  let base = ''
  const log: ProblemLog = { problems: [], network: [] }
  let d1: Device
  let d2: Device

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false, loginAttemptsPerAccount: 2 })
    proxy = await SwitchProxy.start(server.url)
    base = proxy.url
    browser = await launchBrowser()
    d1 = await newDevice(browser, 'laptop', log)
    d2 = await newDevice(browser, 'desktop', log)
    await signUp(d1.page, base, ALICE, 'Laptop')
    await signIn(d2.page, base, ALICE, 'Desktop')
  }, 120_000)

  // A test that fails while the server is cut off must not take the next one down with it.
  afterEach(() => proxy?.up())

  afterAll(async () => {
    await browser?.close()
    await proxy?.close()
    await server?.close()
  })

  it('server unreachable: both devices count down to the next retry; "Retry now" reconnects at once; no flicker', async () => {
    for (const d of [d1, d2]) await expect.poll(() => topStatus(d.page).getAttribute('data-status'), { timeout: 15_000 }).toBe('synced')
    expect(await banner(d1.page).isVisible()).toBe(false)
    await recordStatuses(d1.page)

    proxy.down()
    for (const d of [d1, d2]) {
      await banner(d.page).waitFor()
      expect(await banner(d.page).innerText()).toMatch(/Can’t reach the server\. Retrying in (\d+ s|a moment)\./)
      expect(await topStatus(d.page).getAttribute('data-status')).toBe('offline')
    }
    // The backoff grows; once a wait of a few seconds is scheduled, the countdown runs down live.
    await expect.poll(() => retryIn(d2.page), { timeout: 30_000 }).toBeGreaterThanOrEqual(3)
    const from = await retryIn(d2.page)
    await expect.poll(() => retryIn(d2.page), { timeout: 10_000 }).toBe(from - 1)
    await screenshot(d2.page, 'connection-retrying')

    // Retrying by hand while still down: the attempt fails and a new wait starts; the badge stays
    // "offline" through the failed attempts (no connecting/offline flicker).
    await d1.page.getByTestId('retry-now').click()
    await d1.page.getByTestId('retry-now').click()
    await expect.poll(() => retryIn(d1.page), { timeout: 10_000 }).toBeGreaterThan(0)
    expect(await banner(d1.page).isVisible()).toBe(true)
    expect(new Set(await statuses(d1.page))).toEqual(new Set(['offline']))

    // Back: "Retry now" on the laptop does not wait for its countdown. A wait of several seconds
    // keeps the laptop from reconnecting by itself before the click on a loaded machine.
    await expect.poll(() => retryIn(d1.page), { timeout: 30_000 }).toBeGreaterThanOrEqual(5)
    proxy.up()
    await d1.page.getByTestId('retry-now').click()
    await expect.poll(() => topStatus(d1.page).getAttribute('data-status'), { timeout: 10_000 }).toBe('synced')
    await banner(d1.page).waitFor({ state: 'hidden' })
    // The desktop gets there by itself when its wait is over.
    await expect.poll(() => topStatus(d2.page).getAttribute('data-status'), { timeout: 30_000 }).toBe('synced')
    await banner(d2.page).waitFor({ state: 'hidden' })
  }, 120_000)

  it('a rate-limited sign-in states the server\'s Retry-After', async () => {
    const res = await fetch(`${base}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob-conn@example.com', password: PASSWORD }) })
    expect(res.status).toBe(201)
    const d3 = await newDevice(browser, 'tablet', log)
    await d3.page.goto(base + '/')
    await d3.page.fill('#auth-email', 'bob-conn@example.com')
    await d3.page.fill('#auth-password', 'not the password')
    let retryAfter = ''
    for (let i = 0; i < 4 && !retryAfter; i++) {
      const response = d3.page.waitForResponse(r => r.url().endsWith('/auth/login'))
      await d3.page.getByRole('button', { name: 'Sign in', exact: true }).click()
      const r = await response
      if (r.status() === 429) retryAfter = r.headers()['retry-after'] ?? ''
      await expect.poll(() => d3.page.locator('.auth-form .form-error').innerText()).not.toBe('')
    }
    expect(Number(retryAfter)).toBeGreaterThan(0)
    await expect.poll(() => d3.page.locator('.auth-form .form-error').innerText()).toBe(`Too many attempts. Try again in ${formatWait(Number(retryAfter) * 1000)}.`)
    await screenshot(d3.page, 'rate-limited')
    await d3.context.close()
  }, 45_000)

  it('logs no console errors', () => {
    expect(log.problems).toEqual([])
  })
})
