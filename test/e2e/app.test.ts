/**
 * The demo app in a real browser against the real server: two browser contexts are two devices of
 * one user (own IndexedDB, service worker and network switch), a third is another user.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import * as OTPAuth from 'otpauth'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { PASSWORD, editorText, signIn, signUp, typeAtEnd } from '../helpers/demo.js'
import { ensureDemoBuilt } from '../../demo/build.js'

// CI installs Chromium (.ci/run): there a missing browser is a failure, never a silent skip.
if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

type Server = Awaited<ReturnType<typeof startServer>>
interface Device { context: BrowserContext, page: Page }

const ALICE = 'alice@example.com'
const BOB = 'bob@example.com'

const editor = (page: Page) => page.locator('.cm-content')
/** Wait until the service worker controls the page (the app shell is cached). */
/**
 * Wait until every IndexedDB write the page has started has committed: y-indexeddb writes each update
 * in a transaction of its own, and a reload aborts those still in flight. A readwrite transaction over
 * the same stores, opened now, completes only after them.
 */
const localWritesSettled = (page: Page) => page.evaluate(async () => {
  for (const { name } of await indexedDB.databases()) {
    if (!name) continue
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(name)
      open.onerror = () => reject(open.error)
      open.onsuccess = () => {
        const db = open.result
        const stores = [...db.objectStoreNames]
        if (stores.length === 0) { db.close(); resolve(); return }
        const tx = db.transaction(stores, 'readwrite')
        tx.oncomplete = () => { db.close(); resolve() }
        tx.onerror = () => { db.close(); reject(tx.error) }
      }
    })
  }
})

const swReady = (page: Page) => page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, { timeout: 15_000 })

const status = (page: Page) => page.locator('.editor-head [data-testid="sync-status"]')

describe.skipIf(!chromiumAvailable())('demo app in Chromium', () => {
  let server: Server
  let browser: Browser
  let base = ''
  const log: ProblemLog = { problems: [], network: [] }
  /** Every console line of every page, of any level. */
  const consoleLines: string[] = []
  const device = async (label: string, opts?: Parameters<typeof newDevice>[3]): Promise<Device> => {
    const d = await newDevice(browser, label, log, opts)
    d.context.on('console', msg => consoleLines.push(`[${label}] ${msg.text()}`))
    return d
  }
  let d1: Device
  let d2: Device
  let bob: Device
  let draftUrl = ''

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false, unloadGraceMs: 2000 })
    base = server.url
    browser = await launchBrowser()
    d1 = await device('laptop')
    d2 = await device('desktop')
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  // The tests share these devices in order: one that fails while offline must not take the rest down with it.
  afterEach(async () => {
    await d1?.context.setOffline(false)
    await d2?.context.setOffline(false)
  })

  it('signs up, creates a draft, and edits it live on a second device', async () => {
    await signUp(d1.page, base, ALICE, 'Laptop')
    await screenshot(d1.page, 'home-empty')
    // Keyboard only: Tab to "New draft", Enter, type the title, Enter.
    let found = false
    for (let i = 0; i < 20 && !found; i++) {
      await d1.page.keyboard.press('Tab')
      found = await d1.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'new-draft')
    }
    expect(found).toBe(true)
    await d1.page.keyboard.press('Enter')
    await d1.page.locator('#new-draft-title:focus').waitFor()
    await d1.page.keyboard.type('Trip to Lisbon')
    await d1.page.keyboard.press('Enter')
    await d1.page.waitForURL(/\/d\//)
    draftUrl = d1.page.url()
    await typeAtEnd(d1.page, '# Lisbon\n\nDay one: Alfama and tram 28.')
    await expect.poll(() => status(d1.page).getAttribute('data-status'), { timeout: 10_000 }).toBe('synced')

    // Device 2 signs in: "continue where you left off" offers the draft and caret from device 1.
    await signIn(d2.page, base, ALICE, 'Desktop')
    await d2.page.getByTestId('continue-card').waitFor()
    await expect.poll(() => d2.page.getByTestId('continue-card').innerText()).toContain('Trip to Lisbon')
    await expect.poll(() => d2.page.getByTestId('continue-card').innerText()).toContain('Laptop')
    await screenshot(d2.page, 'home-continue')
    await d2.page.getByTestId('continue-button').click()
    await d2.page.waitForURL(draftUrl)
    await expect.poll(() => editorText(d2.page)).toContain('Day one: Alfama and tram 28.')

    // Live both ways, with presence (who, on which device) and remote carets.
    await typeAtEnd(d2.page, ' Pastéis de nata!')
    await expect.poll(() => editorText(d1.page)).toContain('Pastéis de nata!')
    await typeAtEnd(d1.page, '\nDay two: Sintra.')
    await expect.poll(() => editorText(d2.page)).toContain('Day two: Sintra.')
    await expect.poll(() => d1.page.locator('[data-testid="presence"] .presence-chip').count()).toBe(2)
    await expect.poll(() => d1.page.getByTestId('presence').innerText()).toContain('Desktop')
    await d1.page.locator('.cm-ySelectionCaret').first().waitFor()
    await screenshot(d1.page, 'editor-two-devices')

    // A rename shows live on the other device that has the draft open.
    await d1.page.getByTestId('draft-title').fill('Trip to Lisbon and Porto')
    await d1.page.getByTestId('draft-title').press('Enter')
    await expect.poll(() => d2.page.getByTestId('draft-title').inputValue(), { timeout: 15_000 }).toBe('Trip to Lisbon and Porto')
  }, 60_000)

  it('edits offline on both devices, reloads offline from the service worker cache, and merges', async () => {
    await swReady(d1.page)
    await swReady(d2.page)
    await d1.context.setOffline(true)
    await d2.context.setOffline(true)
    await expect.poll(() => status(d1.page).getAttribute('data-status')).toBe('offline')
    await expect.poll(() => status(d2.page).getAttribute('data-status')).toBe('offline')

    await typeAtEnd(d1.page, '\nOffline on the laptop.')
    await typeAtEnd(d2.page, '\nOffline on the desktop.')
    await expect.poll(() => d1.page.locator('.editor-head [data-testid="unsynced"]').isVisible()).toBe(true)
    await expect.poll(() => d2.page.locator('.editor-head [data-testid="unsynced"]').isVisible()).toBe(true)
    await screenshot(d1.page, 'editor-offline')

    // A reload with no network: the app shell comes from the service worker, the draft from IndexedDB.
    // (Once the edit's IndexedDB write has committed: a reload aborts a write still in flight.)
    await localWritesSettled(d2.page)
    await d2.page.reload()
    await d2.page.waitForSelector('.cm-content')
    await expect.poll(() => editorText(d2.page)).toContain('Offline on the desktop.')
    expect(await editorText(d2.page)).not.toContain('Offline on the laptop.')
    await expect.poll(() => status(d2.page).getAttribute('data-status')).toBe('offline')

    await d1.context.setOffline(false)
    await d2.context.setOffline(false)
    for (const page of [d1.page, d2.page]) {
      await expect.poll(() => editorText(page), { timeout: 15_000 }).toContain('Offline on the laptop.')
      await expect.poll(() => editorText(page), { timeout: 15_000 }).toContain('Offline on the desktop.')
      await expect.poll(() => status(page).getAttribute('data-status'), { timeout: 15_000 }).toBe('synced')
      await expect.poll(() => page.locator('.editor-head [data-testid="unsynced"]').isVisible()).toBe(false)
    }
    expect(await editorText(d1.page)).toBe(await editorText(d2.page))
  }, 60_000)

  it('syncs preferences across devices through the session document', async () => {
    await d1.page.getByTestId('nav-settings').click()
    await d1.page.locator('[data-testid="theme"] [data-value="dark"]').click()
    await d1.page.locator('[data-testid="font-size"] [data-value="20"]').click()
    await expect.poll(() => d2.page.evaluate(() => document.documentElement.dataset.theme), { timeout: 10_000 }).toBe('dark')
    await expect.poll(() => d2.page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--editor-font-size').trim())).toBe('20px')
    await screenshot(d1.page, 'settings-dark')
    await screenshot(d2.page, 'editor-dark')
  }, 30_000)

  it('shares a draft read-only: the viewer sees it but cannot change it', async () => {
    const res = await fetch(`${base}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: BOB, password: PASSWORD }) })
    expect(res.status).toBe(201)
    await d1.page.goto(draftUrl)
    await d1.page.getByTestId('share').click()
    await d1.page.fill('#share-email', BOB)
    await d1.page.selectOption('#share-role', 'viewer')
    await d1.page.locator('.share-dialog button[type="submit"]').click()
    await expect.poll(() => d1.page.locator('.share-dialog .members').innerText()).toContain(BOB)
    await screenshot(d1.page, 'share-dialog')
    await d1.page.keyboard.press('Escape')

    bob = await device('bob')
    await signIn(bob.page, base, BOB, 'Bob laptop')
    await bob.page.getByTestId('shared-drafts').getByText('Trip to Lisbon').click()
    await bob.page.getByTestId('viewer-banner').waitFor()
    await expect.poll(() => editorText(bob.page)).toContain('Day two: Sintra.')
    const before = await editorText(bob.page)
    await editor(bob.page).click()
    await bob.page.keyboard.type('VIEWER WAS HERE')
    // Barrier: an edit of the owner's that reaches bob came after his keystrokes; had they made an
    // update, it would be in bob's editor now and on its way to the owner.
    await typeAtEnd(d1.page, ' Owner mark.')
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toBe(before + ' Owner mark.')
    expect(await editorText(d1.page)).toBe(before + ' Owner mark.')
    await screenshot(bob.page, 'editor-viewer')
    // The owner removes bob while he has the draft open: his page says so instead of spinning.
    await d1.page.getByTestId('share').click()
    await d1.page.getByRole('button', { name: `Remove ${BOB}` }).click()
    await expect.poll(() => d1.page.locator('.share-dialog .members').innerText()).not.toContain(BOB)
    await d1.page.keyboard.press('Escape')
    await bob.page.getByText('This draft is not available').waitFor({ timeout: 20_000 })
    await screenshot(bob.page, 'access-removed')
    await bob.context.close()
  }, 90_000)

  it('renders the phone layout at 390×844', async () => {
    const phone = await device('phone', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36'
    })
    await phone.page.goto(base + '/')
    await screenshot(phone.page, 'phone-sign-in')
    await signIn(phone.page, base, ALICE, 'Pixel')
    await phone.page.getByTestId('my-drafts').waitFor()
    // No horizontal overflow on a phone.
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(phone.page, 'phone-home')
    await phone.page.goto(draftUrl)
    await expect.poll(() => editorText(phone.page)).toContain('Sintra')
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(phone.page, 'phone-editor')
    await phone.page.getByRole('button', { name: 'Menu' }).click()
    await phone.page.getByTestId('nav-devices').click()
    await phone.page.getByTestId('device').first().waitFor()
    await screenshot(phone.page, 'phone-devices')
    await phone.context.close()
  }, 45_000)

  it('revoking device 2 from the dashboard shows the sign-in-again prompt there within 2 s', async () => {
    await d2.page.goto(draftUrl)
    await d2.page.waitForSelector('.cm-content')
    await expect.poll(() => status(d2.page).getAttribute('data-status'), { timeout: 10_000 }).toBe('synced')
    await d1.page.getByTestId('nav-devices').click()
    const desktopRow = d1.page.locator('[data-testid="device"]', { hasText: 'Desktop' })
    await desktopRow.waitFor()
    await expect.poll(() => desktopRow.locator('.online-dot').getAttribute('data-online')).toBe('true')
    await screenshot(d1.page, 'devices')
    await desktopRow.getByTestId('revoke').click()
    await d1.page.locator('.dialog .btn-danger').click()
    const t0 = Date.now()
    await d2.page.locator('.signed-out-dialog').waitFor({ timeout: 2000 })
    expect(Date.now() - t0).toBeLessThan(2000)
    await expect.poll(() => d2.page.locator('.signed-out-dialog').innerText()).toContain('Sign in again')
    await expect.poll(() => d2.page.getByTestId('signed-out-reason').innerText()).toContain('signed out from another device')
    await screenshot(d2.page, 'signed-out-prompt')

    // Signing in again from the prompt keeps the device's text and resumes sync.
    await d2.page.fill('.signed-out-dialog #auth-password', PASSWORD)
    await d2.page.locator('.signed-out-dialog button[type="submit"]').click()
    await d2.page.locator('.signed-out-dialog').waitFor({ state: 'detached' })
    await expect.poll(() => status(d2.page).getAttribute('data-status'), { timeout: 10_000 }).toBe('synced')
    await expect.poll(() => editorText(d2.page)).toContain('Sintra')
  }, 45_000)

  it('enrolls MFA with a QR code, signs in with the MFA challenge, and steps up to sign out all others', async () => {
    await d1.page.getByTestId('nav-settings').click()
    await d1.page.getByTestId('mfa-enroll').click()
    const uri = await d1.page.getByTestId('mfa-qr').getAttribute('data-uri')
    expect(uri).toMatch(/^otpauth:\/\/totp\//)
    await screenshot(d1.page, 'mfa-enroll')
    await d1.page.fill('#mfa-confirm-code', OTPAuth.URI.parse(uri!).generate())
    await d1.page.locator('.mfa-dialog button[type="submit"]').click()
    const codes = (await d1.page.getByTestId('recovery-codes').innerText()).split(/\s+/).filter(Boolean)
    expect(codes.length).toBeGreaterThanOrEqual(2)
    await d1.page.getByRole('button', { name: 'I saved them' }).click()
    await d1.page.getByTestId('mfa-on').waitFor()

    // A new device: password, then the MFA challenge (a recovery code: the TOTP step was just used).
    const d3 = await device('tablet')
    await d3.page.goto(base + '/')
    await d3.page.fill('#auth-email', ALICE)
    await d3.page.fill('#auth-password', PASSWORD)
    await d3.page.fill('#auth-device', 'Tablet')
    await d3.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await d3.page.locator('#mfa-code').waitFor()
    await screenshot(d3.page, 'mfa-challenge')
    await d3.page.fill('#mfa-code', 'not-a-code')
    await d3.page.getByRole('button', { name: 'Verify' }).click()
    await expect.poll(() => d3.page.locator('.auth-form .form-error').innerText()).toContain('not right')
    await d3.page.fill('#mfa-code', codes[0]!)
    await d3.page.getByRole('button', { name: 'Verify' }).click()
    await d3.page.waitForSelector('.shell')

    // Signing out every other device asks for a fresh second factor first.
    await d1.page.getByTestId('nav-devices').click()
    await d1.page.locator('[data-testid="device"]', { hasText: 'Tablet' }).waitFor()
    await d1.page.getByTestId('revoke-others').click()
    await d1.page.locator('.dialog .btn-danger').click()
    await d1.page.locator('#step-up-code').waitFor()
    await screenshot(d1.page, 'step-up')
    await d1.page.fill('#step-up-code', codes[1]!)
    await d1.page.locator('.step-up-dialog button[type="submit"]').click()
    await d3.page.locator('.signed-out-dialog').waitFor({ timeout: 15_000 })
    await d2.page.locator('.signed-out-dialog').waitFor({ timeout: 15_000 })
    await expect.poll(() => d1.page.getByTestId('device').count()).toBe(1)
    await d3.context.close()
  }, 45_000)

  it('logs no console errors', () => {
    expect(log.problems).toEqual([])
  })

  it('prints no token to the console, not even in the lines Chromium writes about failed sockets', () => {
    const jwt = /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/
    expect(consoleLines.length + log.network.length).toBeGreaterThan(0)
    expect([...consoleLines, ...log.network].filter(l => jwt.test(l) || /[?&]token=/.test(l))).toEqual([])
  })
})
