/**
 * Pairing a TV by code and passkeys, in the demo app in real Chromium against the real server. Each
 * browser context is one device. Passkeys use Chromium's virtual authenticator (CDP WebAuthn domain);
 * copying its credential into another context's authenticator stands for a passkey synced by a
 * password manager. The pages are opened on http://localhost (WebAuthn refuses IP addresses as RP ID).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { ensureDemoBuilt } from '../../demo/build.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

type Server = Awaited<ReturnType<typeof startServer>>
interface Device { context: BrowserContext, page: Page }

const PASSWORD = 'correct horse battery staple'
const ALICE = 'alice.tv@example.com'

/** A platform authenticator with user verification, attached to the page's tab. */
const virtualAuthenticator = async (page: Page): Promise<{ cdp: CDPSession, id: string }> => {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
  return { cdp, id: authenticatorId }
}

const setSeek = (page: Page, seconds: number) => page.getByTestId('tv-seek').evaluate((el, s) => {
  const input = el as HTMLInputElement
  input.value = String(s)
  input.dispatchEvent(new Event('change', { bubbles: true }))
}, seconds)

describe.skipIf(!chromiumAvailable())('pairing a TV and passkeys in Chromium', () => {
  let server: Server
  let browser: Browser
  let base = ''
  const log: ProblemLog = { problems: [], network: [] }
  let laptop: Device
  let tv: Device
  let laptopKeys: { cdp: CDPSession, id: string }

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false })
    base = server.url.replace('127.0.0.1', 'localhost')
    browser = await launchBrowser()
    laptop = await newDevice(browser, 'laptop', log)
    tv = await newDevice(browser, 'tv', log, { viewport: { width: 1920, height: 1080 } })
    laptopKeys = await virtualAuthenticator(laptop.page)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('a TV shows a code and QR code; the laptop approves it; the TV continues at the synced position', async () => {
    // The laptop signs up and watches up to 12:34.
    await laptop.page.goto(base + '/')
    await laptop.page.getByRole('tab', { name: 'Create account' }).click()
    await laptop.page.fill('#auth-email', ALICE)
    await laptop.page.fill('#auth-password', PASSWORD)
    await laptop.page.fill('#auth-device', 'Laptop')
    await laptop.page.getByRole('button', { name: 'Create account', exact: true }).click()
    await laptop.page.waitForSelector('.shell')
    await laptop.page.getByTestId('nav-watch').click()
    await laptop.page.getByTestId('tv-seek').waitFor()
    await setSeek(laptop.page, 754)
    await expect.poll(() => laptop.page.getByTestId('tv-continue').innerText()).toMatch(/continue watching at 12:34/i)

    // The TV: no keyboard, a code and a QR code of the link with the code in it.
    await tv.page.goto(base + '/tv')
    const code = (await tv.page.getByTestId('tv-code').innerText()).trim()
    expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    const link = await tv.page.getByTestId('tv-qr').getAttribute('data-uri')
    expect(link).toBe(`${base}/device?code=${code}`)
    await expect.poll(() => tv.page.getByTestId('tv-qr').evaluate(img => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(100)
    expect(await tv.page.getByTestId('tv-url').innerText()).toBe(`${new URL(base).host}/device`)
    await screenshot(tv.page, 'tv-pairing-code')

    // The laptop follows the QR link: it sees what asks to be added, with the phishing warning.
    await laptop.page.goto(link!)
    const request = laptop.page.getByTestId('pair-request')
    await request.waitFor()
    expect(await laptop.page.getByTestId('pair-device-name').innerText()).toMatch(/^TV \(/)
    expect(await request.innerText()).toContain(code)
    expect(await laptop.page.getByTestId('pair-facts').innerText()).toContain('same network')
    expect(await laptop.page.getByTestId('pair-warning').innerText()).toContain('someone sent you this code')
    await screenshot(laptop.page, 'pair-approve')
    await laptop.page.getByTestId('pair-approve').click()
    await laptop.page.getByTestId('pair-approved').waitFor()

    // The TV polls, signs in, and offers to continue where the laptop stopped.
    await expect.poll(() => tv.page.getByTestId('tv-continue').innerText(), { timeout: 20_000 }).toMatch(/continue watching at 12:34 — you were watching on Laptop/i)
    expect(await tv.page.getByTestId('tv-account').innerText()).toBe(ALICE)
    await screenshot(tv.page, 'tv-continue-watching')

    // Live: the TV seeks, the laptop's player follows.
    await laptop.page.goto(base + '/tv')
    await laptop.page.getByTestId('tv-seek').waitFor()
    await setSeek(tv.page, 1500)
    await expect.poll(() => laptop.page.getByTestId('tv-position').innerText(), { timeout: 10_000 }).toContain('25:00')
  }, 90_000)

  it('the TV is a device like any other: revoked from the dashboard, it shows a new code; a typed code can be denied', async () => {
    await laptop.page.goto(base + '/devices')
    const row = laptop.page.locator('[data-testid="device"]', { hasText: 'TV (' })
    await row.waitFor()
    expect(await row.innerText()).toContain('TV')
    await screenshot(laptop.page, 'devices-with-tv')
    await row.getByTestId('revoke').click()
    await laptop.page.locator('.dialog .btn-danger').click()
    await expect.poll(() => tv.page.locator('.tv-error').innerText(), { timeout: 10_000 }).toContain('signed out')
    const code = (await tv.page.getByTestId('tv-code').innerText()).trim()

    // Typed by hand, in lower case without the hyphen; then denied.
    await laptop.page.getByTestId('add-device').click()
    await laptop.page.getByTestId('pair-code').fill(code.replace('-', '').toLowerCase())
    await laptop.page.getByTestId('pair-code').press('Enter')
    await laptop.page.getByTestId('pair-request').waitFor()
    await laptop.page.getByTestId('pair-deny').click()
    await laptop.page.getByTestId('pair-denied').waitFor()
    await expect.poll(() => tv.page.locator('.tv-error').innerText(), { timeout: 20_000 }).toContain('denied')
    // A code that is not waiting gets a clear answer.
    await laptop.page.goto(base + '/device')
    await laptop.page.getByTestId('pair-code').fill('BCDF-GHJK')
    await laptop.page.getByTestId('pair-code').press('Enter')
    await expect.poll(() => laptop.page.locator('.pair-form .form-error').innerText()).toContain('No device is waiting')
  }, 60_000)

  it('adds a passkey on the laptop; a phone with the synced passkey signs in without typing an email', async () => {
    await laptop.page.goto(base + '/settings')
    await laptop.page.getByTestId('passkey-add').click()
    await laptop.page.getByTestId('passkey').first().waitFor()
    expect(await laptop.page.getByTestId('passkey-list').innerText()).toContain('Chrome')
    await screenshot(laptop.page, 'settings-passkeys')

    const { credentials } = await laptopKeys.cdp.send('WebAuthn.getCredentials', { authenticatorId: laptopKeys.id })
    expect(credentials).toHaveLength(1)
    expect(credentials[0]!.isResidentCredential).toBe(true)
    expect(credentials[0]!.rpId).toBe('localhost')

    const phone = await newDevice(browser, 'phone', log, { viewport: { width: 390, height: 844 }, isMobile: true })
    const phoneKeys = await virtualAuthenticator(phone.page)
    await phoneKeys.cdp.send('WebAuthn.addCredential', { authenticatorId: phoneKeys.id, credential: credentials[0]! })
    await phone.page.goto(base + '/')
    await screenshot(phone.page, 'phone-passkey-sign-in')
    await phone.page.getByTestId('passkey-login').click()
    await phone.page.waitForSelector('.shell')
    expect(await phone.page.locator('.user-menu').getAttribute('title')).toContain(ALICE)

    // Removed on the laptop: the passkey signs in nowhere any more.
    await laptop.page.getByTestId('passkey-remove').click()
    await laptop.page.locator('.dialog .btn-danger').click()
    await expect.poll(() => laptop.page.getByTestId('passkey').count()).toBe(0)
    await phone.page.getByTestId('nav-settings').evaluate(a => (a as HTMLAnchorElement).click())
    await phone.page.getByRole('button', { name: 'Sign out of this device' }).click()
    await phone.page.getByTestId('passkey-login').click()
    await expect.poll(() => phone.page.locator('.auth-form .form-error').innerText()).toContain('not registered')
    await phone.context.close()
  }, 60_000)

  it('logs no console errors', () => {
    expect(log.problems).toEqual([])
  })
})
