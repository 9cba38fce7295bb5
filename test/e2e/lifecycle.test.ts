/**
 * Session lifecycle in the demo app: the idle warning and "Stay signed in", the absolute-lifetime
 * warning and signing in again without losing work, a specific message per sign-out reason, and a
 * revocation with wipe ("will be wiped" on the dashboard, the device's data gone when it learns).
 * Each browser context is one device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { PASSWORD, editorText, signIn, signUp, typeAtEnd } from '../helpers/demo.js'
import { ensureDemoBuilt } from '../../demo/build.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

interface Device { context: BrowserContext, page: Page }
type Server = Awaited<ReturnType<typeof startServer>>

const expiry = (page: Page) => page.getByTestId('expiry-banner')
const expirySeconds = (page: Page) => page.getByTestId('expiry-text').getAttribute('data-seconds').then(Number)
const sdkDatabases = (page: Page) => page.evaluate(async () => (await indexedDB.databases()).map(d => d.name ?? '').filter(n => n.startsWith('sync-sdk-')))

describe.skipIf(!chromiumAvailable())('demo: session lifecycle', () => {
  let browser: Browser
  const servers: Server[] = []
  const log: ProblemLog = { problems: [], network: [] }

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    for (const s of servers) await s.close()
  })

  it('idle expiry: warned with a countdown, "Stay signed in" moves it; an idle device is told why it was signed out', async () => {
    // Idle deadlines inside the SDK's 60 s warning window: warned at once.
    const server = await startServer({ insecureNoAuth: false, idleTimeoutMs: 25_000 })
    servers.push(server)
    const laptop: Device = await newDevice(browser, 'laptop', log)
    const phone: Device = await newDevice(browser, 'phone', log, { viewport: { width: 390, height: 844 }, isMobile: true })
    await signUp(laptop.page, server.url, 'idle@example.com', 'Laptop')
    await signIn(phone.page, server.url, 'idle@example.com', 'Phone')

    await expiry(laptop.page).waitFor()
    expect(await expiry(laptop.page).getAttribute('data-kind')).toBe('idle')
    expect(await laptop.page.getByTestId('expiry-text').innerText()).toMatch(/^You’ll be signed out in \d+ s because of inactivity\.$/)
    await expiry(phone.page).waitFor()
    await screenshot(phone.page, 'phone-expiry-idle')

    // Stay signed in: the deadline moves (the countdown starts over).
    await expect.poll(() => expirySeconds(laptop.page), { timeout: 30_000 }).toBeLessThan(22)
    const before = await expirySeconds(laptop.page)
    await laptop.page.getByTestId('expiry-action').click()
    await expect.poll(() => expirySeconds(laptop.page)).toBeGreaterThan(before)

    // The phone did nothing: it is signed out, and says why.
    await expect.poll(() => phone.page.locator('.signed-out-dialog [data-testid="signed-out-reason"]').innerText(), { timeout: 40_000 })
      .toBe('You were signed out because this device was not used for a while.')
    await screenshot(phone.page, 'phone-signed-out-idle')

    await laptop.context.close()
    await phone.context.close()
  }, 150_000)

  it('absolute expiry: "Your session ends in N s — Sign in again" re-authenticates over the open draft, keeping it', async () => {
    const server = await startServer({ insecureNoAuth: false, absoluteLifetimeMs: 55_000 })
    servers.push(server)
    const laptop: Device = await newDevice(browser, 'laptop3', log)
    await signUp(laptop.page, server.url, 'absolute@example.com', 'Laptop')
    await laptop.page.getByTestId('new-draft').click()
    await laptop.page.fill('#new-draft-title', 'Before the deadline')
    await laptop.page.keyboard.press('Enter')
    await laptop.page.waitForURL(/\/d\//)
    await typeAtEnd(laptop.page, 'Typed before signing in again.')
    await expiry(laptop.page).waitFor()
    expect(await expiry(laptop.page).getAttribute('data-kind')).toBe('absolute')
    expect(await laptop.page.getByTestId('expiry-text').innerText()).toMatch(/^Your session ends in \d+ s\.$/)
    expect(await laptop.page.getByTestId('expiry-action').innerText()).toBe('Sign in again')
    const left = await expirySeconds(laptop.page)
    await laptop.page.getByTestId('expiry-action').click()
    await laptop.page.fill('.reauth-dialog #auth-password', PASSWORD)
    await screenshot(laptop.page, 'expiry-absolute-sign-in-again')
    // The new session gets the same lifetime: let the countdown run down a little first, so that a
    // later end shows as a larger number whatever the rounding.
    await expect.poll(() => expirySeconds(laptop.page), { timeout: 30_000 }).toBeLessThan(left - 2)
    const before = await expirySeconds(laptop.page)
    await laptop.page.locator('.reauth-dialog button[type="submit"]').click()
    await laptop.page.locator('.reauth-dialog').waitFor({ state: 'detached' })
    // A new session: its absolute end is later, the draft and its text are still there and sync.
    await expect.poll(() => expirySeconds(laptop.page), { timeout: 15_000 }).toBeGreaterThan(before + 1)
    await expect.poll(() => editorText(laptop.page)).toContain('Typed before signing in again.')
    await expect.poll(() => laptop.page.locator('.editor-head [data-testid="sync-status"]').getAttribute('data-status'), { timeout: 15_000 }).toBe('synced')
    await laptop.context.close()
  }, 120_000)

  it('revoked with wipe: "will be wiped" until the device connects, then it removes its data and says why', async () => {
    const server = await startServer({ insecureNoAuth: false })
    servers.push(server)
    const laptop: Device = await newDevice(browser, 'laptop2', log)
    const tablet: Device = await newDevice(browser, 'tablet', log)
    await signUp(laptop.page, server.url, 'wipe@example.com', 'Laptop')
    await signIn(tablet.page, server.url, 'wipe@example.com', 'Tablet')
    await tablet.page.getByTestId('nav-tasks').click()
    await tablet.page.fill('#task-title', 'On the tablet')
    await tablet.page.keyboard.press('Enter')
    await expect.poll(() => sdkDatabases(tablet.page), { timeout: 30_000 }).not.toEqual([])

    // The tablet is away (offline) when it is signed out with wipe.
    await tablet.context.setOffline(true)
    await laptop.page.getByTestId('nav-devices').click()
    const row = laptop.page.locator('[data-testid="device"]', { hasText: 'Tablet' })
    await row.getByTestId('revoke').click()
    await laptop.page.getByTestId('revoke-wipe').check()
    await laptop.page.locator('.dialog .btn-danger').click()
    await row.getByTestId('will-be-wiped').waitFor()
    await screenshot(laptop.page, 'devices-will-be-wiped')

    await tablet.context.setOffline(false)
    await expect.poll(() => tablet.page.locator('.auth-page [data-testid="signed-out-reason"]').innerText(), { timeout: 30_000 })
      .toBe('You were signed out because this device was signed out from another device. This device’s copy of your account was removed.')
    // IndexedDB deletes finish after the page says so (a database still open elsewhere blocks one).
    await expect.poll(() => sdkDatabases(tablet.page), { timeout: 30_000 }).toEqual([])
    expect(await tablet.page.evaluate(() => Object.keys(localStorage).filter(k => k.startsWith('tandem.') && k !== 'tandem.theme'))).toEqual([])
    await screenshot(tablet.page, 'signed-out-wiped-by-revoke')
    // Told: the dashboard drops the row.
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(0)

    // A password change elsewhere: the laptop's other session is told that reason.
    const desk: Device = await newDevice(browser, 'desk', log)
    await signIn(desk.page, server.url, 'wipe@example.com', 'Desk')
    await laptop.page.getByTestId('nav-settings').click()
    await laptop.page.fill('#pw-current', PASSWORD)
    await laptop.page.fill('#pw-next', PASSWORD + ' again')
    await laptop.page.locator('form[aria-label="Change password"] button[type="submit"]').click()
    await expect.poll(() => desk.page.locator('.signed-out-dialog [data-testid="signed-out-reason"]').innerText(), { timeout: 20_000 })
      .toBe('You were signed out because your password was changed.')
    for (const d of [laptop, tablet, desk]) await d.context.close()
  }, 120_000)

  it('logs no console errors', () => {
    expect(log.problems).toEqual([])
  })
})
