/**
 * The security alert banner in a real browser: a signed-in laptop (Chromium) on its devices page sees
 * a sign-in on a TV from another city live, and signs it out with one click.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { PASSWORD, TestDevice } from '../helpers/identity.js'
import { ensureDemoBuilt } from '../../demo/build.js'
import type { Locate } from '../../server/anomaly/geo.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

// The browser is at 127.0.0.1; the TV's requests name 10.20.30.40 (one trusted proxy hop), "in Berlin".
const locate: Locate = ip => (ip.startsWith('10.') ? { lat: 52.52, lon: 13.4, city: 'Berlin', country: 'DE' } : undefined)

describe.skipIf(!chromiumAvailable())('security alert banner (Chromium)', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof startServer>>
  const log: ProblemLog = { problems: [], network: [] }

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false, trustedProxies: '1', loginAttemptsPerIp: 10_000 }, { locate })
    browser = await launchBrowser()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('shows "New sign-in on a TV in Berlin — was this you?" and signs the TV out', async () => {
    const email = 'alert-e2e@example.com'
    const { page } = await newDevice(browser, 'laptop', log)
    await page.goto(server.url + '/')
    await page.getByRole('tab', { name: 'Create account' }).click()
    await page.fill('#auth-email', email)
    await page.fill('#auth-password', PASSWORD)
    await page.fill('#auth-device', 'Laptop')
    await page.getByRole('button', { name: 'Create account', exact: true }).click()
    await page.waitForSelector('.shell')
    await page.goto(server.url + '/devices')
    await page.waitForSelector('[data-testid="device-list"] [data-testid="device"]')

    const tv = await TestDevice.create(server.url, email, 'Living room TV')
    const login = await tv.call('POST', '/auth/login', { email, password: PASSWORD, device: { name: 'Living room TV', platform: 'tv' } },
      { dpop: await tv.proof('POST', '/auth/login'), 'x-forwarded-for': '10.20.30.40' })
    expect(login.status).toBe(200)
    tv.tokens = login.body

    const banner = page.locator('[data-testid="security-alert"]')
    await banner.waitFor({ timeout: 60_000 })
    expect(await banner.textContent()).toMatch(/New sign-in on Living room TV \(.+\) in Berlin, DE\. Was this you\?/)
    await screenshot(page, 'security-alert-banner')
    await banner.locator('[data-testid="alert-sign-out"]').click()
    await banner.waitFor({ state: 'detached', timeout: 60_000 })
    const after = await tv.call('POST', '/auth/refresh', { refreshToken: tv.tokens.refreshToken }, { dpop: await tv.proof('POST', '/auth/refresh'), 'x-forwarded-for': '10.20.30.40' })
    expect(after.body.error).toBe('session_ended')
    expect(log.problems).toEqual([])
  }, 180_000)
})
