/**
 * Session state that follows the user between devices, in the demo app: tasks (add, complete,
 * reorder by buttons and by drag), who edited a draft last, the playback position ("continue
 * watching at … on Laptop"), and signing out with removal of the device's data. Two browser
 * contexts are two devices of one user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { signIn, signUp, typeAtEnd } from '../helpers/demo.js'
import { ensureDemoBuilt } from '../../demo/build.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

interface Device { context: BrowserContext, page: Page }
const ALICE = 'ana@example.com'

const taskTexts = (page: Page) => page.getByTestId('task-text').allInnerTexts()
const setSeek = (page: Page, seconds: number) => page.getByTestId('tv-seek').evaluate((el, s) => {
  const input = el as HTMLInputElement
  input.value = String(s)
  input.dispatchEvent(new Event('change'))
}, seconds)

describe.skipIf(!chromiumAvailable())('demo: tasks, drafts edited, playback, sign-out with wipe', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  let browser: Browser
  let base = ''
  const log: ProblemLog = { problems: [], network: [] }
  let laptop: Device
  let desktop: Device

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false, unloadGraceMs: 2000 })
    base = server.url
    browser = await launchBrowser()
    laptop = await newDevice(browser, 'laptop', log)
    desktop = await newDevice(browser, 'desktop', log)
    await signUp(laptop.page, base, ALICE, 'Laptop')
    await signIn(desktop.page, base, ALICE, 'Desktop')
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('tasks: added, completed and reordered on one device show on the other', async () => {
    await laptop.page.getByTestId('nav-tasks').click()
    await desktop.page.getByTestId('nav-tasks').click()
    for (const t of ['Book train', 'Pack bag', 'Water plants']) {
      await laptop.page.fill('#task-title', t)
      await laptop.page.keyboard.press('Enter')
    }
    await expect.poll(() => taskTexts(desktop.page), { timeout: 15_000 }).toEqual(['Book train', 'Pack bag', 'Water plants'])

    // Completed on the desktop, struck through on the laptop.
    await desktop.page.locator('[data-testid="task"]', { hasText: 'Pack bag' }).getByTestId('task-done').check()
    await expect.poll(() => laptop.page.locator('[data-testid="task"]', { hasText: 'Pack bag' }).getAttribute('data-done')).toBe('1')

    // Up/down buttons on the laptop.
    await laptop.page.locator('[data-testid="task"]', { hasText: 'Water plants' }).getByTestId('task-up').click()
    await expect.poll(() => taskTexts(desktop.page)).toEqual(['Book train', 'Water plants', 'Pack bag'])
    await laptop.page.locator('[data-testid="task"]', { hasText: 'Book train' }).getByTestId('task-down').click()
    await expect.poll(() => taskTexts(desktop.page)).toEqual(['Water plants', 'Book train', 'Pack bag'])

    // Drag on the desktop: "Pack bag" onto the first task takes its place.
    await desktop.page.locator('[data-testid="task"]', { hasText: 'Pack bag' }).dragTo(desktop.page.locator('[data-testid="task"]', { hasText: 'Water plants' }))
    await expect.poll(() => taskTexts(laptop.page)).toEqual(['Pack bag', 'Water plants', 'Book train'])
    expect(await laptop.page.locator('[data-testid="task"]', { hasText: 'Pack bag' }).getAttribute('data-done')).toBe('1')
    await screenshot(laptop.page, 'tasks')

    await desktop.page.locator('[data-testid="task"]', { hasText: 'Book train' }).getByTestId('task-remove').click()
    await expect.poll(() => taskTexts(laptop.page)).toEqual(['Pack bag', 'Water plants'])
  }, 60_000)

  it('a content edit (not only a rename) shows as "Edited … by … on <device>" in the other device\'s drafts list', async () => {
    await laptop.page.getByTestId('nav-home').click()
    await laptop.page.getByTestId('new-draft').click()
    await laptop.page.fill('#new-draft-title', 'Packing list')
    await laptop.page.keyboard.press('Enter')
    await laptop.page.waitForURL(/\/d\//)
    const draftUrl = laptop.page.url()
    const id = new URL(draftUrl).pathname.split('/').pop()!
    await desktop.page.getByTestId('nav-home').click()
    const card = desktop.page.locator(`[data-testid="draft-card"][data-doc="${id}"]`)
    // Created, not yet edited: no editor named.
    await expect.poll(() => card.getByTestId('draft-card-edited').innerText(), { timeout: 20_000 }).toMatch(/^Edited /)
    expect(await card.getByTestId('draft-card-edited').innerText()).not.toContain(' on ')

    await typeAtEnd(laptop.page, 'Socks, charger, passport.')
    await expect.poll(() => laptop.page.getByTestId('draft-edited').innerText()).toBe('Edited just now by you on Laptop')
    await expect.poll(() => card.getByTestId('draft-card-edited').innerText(), { timeout: 15_000 }).toBe('Edited just now by you on Laptop')
    await screenshot(desktop.page, 'drafts-edited-by')

    // The desktop edits too: the laptop's editor says so.
    await desktop.page.goto(draftUrl)
    await typeAtEnd(desktop.page, ' Book.')
    await expect.poll(() => laptop.page.getByTestId('draft-edited').innerText(), { timeout: 15_000 }).toBe('Edited just now by you on Desktop')
  }, 60_000)

  it('playback follows the user: the other device offers to continue at 12:34 from the laptop, and resumes there', async () => {
    await laptop.page.getByTestId('nav-home').click()
    await laptop.page.getByTestId('nav-watch').click()
    await laptop.page.getByTestId('tv-seek').waitFor()
    await setSeek(laptop.page, 754)
    await expect.poll(() => laptop.page.getByTestId('tv-continue').textContent()).toBe('Continue watching at 12:34')

    await desktop.page.goto(base + '/')
    const card = desktop.page.getByTestId('watch-card')
    await expect.poll(() => card.getByTestId('watch-where').innerText(), { timeout: 15_000 }).toMatch(/^At 12:34 on Laptop/)
    await screenshot(desktop.page, 'home-continue-watching')
    await card.getByTestId('watch-button').click()
    await expect.poll(() => desktop.page.getByTestId('tv-continue').textContent()).toBe('Continue watching at 12:34 — you were watching on Laptop')
    expect(await desktop.page.getByTestId('tv-position').innerText()).toMatch(/^12:34 of /)

    // Resume on the desktop, pause: the laptop's (paused) player follows to where it stopped.
    await desktop.page.getByTestId('tv-play').click()
    await expect.poll(() => desktop.page.getByTestId('tv-position').innerText(), { timeout: 10_000 }).not.toMatch(/^12:34 /)
    await desktop.page.getByTestId('tv-play').click()
    const stoppedAt = (await desktop.page.getByTestId('tv-position').innerText()).split(' of ')[0]!
    await expect.poll(() => laptop.page.getByTestId('tv-continue').textContent(), { timeout: 15_000 }).toBe(`Continue watching at ${stoppedAt} — you were watching on Desktop`)
  }, 60_000)

  it('renders the tasks page on a phone (390×844) without horizontal overflow', async () => {
    const phone = await newDevice(browser, 'phone', log, { viewport: { width: 390, height: 844 }, isMobile: true })
    await signIn(phone.page, base, ALICE, 'Phone')
    await phone.page.goto(base + '/tasks')
    await expect.poll(() => taskTexts(phone.page), { timeout: 15_000 }).toEqual(['Pack bag', 'Water plants'])
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await phone.page.getByTestId('account-button').click()
    await phone.page.getByTestId('account-menu').waitFor()
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(phone.page, 'phone-tasks-account-menu')
    await phone.context.close()
  }, 45_000)

  it('"Sign out and remove this device\'s data" deletes the local copy; the account keeps it', async () => {
    await desktop.page.goto(base + '/')
    const before = await desktop.page.evaluate(async () => (await indexedDB.databases()).map(d => d.name ?? ''))
    expect(before.filter(n => n.startsWith('sync-sdk-')).length).toBeGreaterThan(1)
    await desktop.page.getByTestId('account-button').click()
    await desktop.page.getByTestId('menu-sign-out-wipe').click()
    await desktop.page.locator('.dialog .btn-danger').click()
    await expect.poll(() => desktop.page.getByTestId('signed-out-reason').innerText()).toContain('data was removed')
    await screenshot(desktop.page, 'signed-out-wiped')
    // No SDK database (documents, tokens, device key) and no cached drafts list or account left.
    await expect.poll(() => desktop.page.evaluate(async () => (await indexedDB.databases()).map(d => d.name ?? '').filter(n => n.startsWith('sync-sdk-')))).toEqual([])
    expect(await desktop.page.evaluate(() => Object.keys(localStorage).filter(k => k.startsWith('tandem.') && k !== 'tandem.theme'))).toEqual([])
    // The laptop still has everything; signing in again on the desktop brings it back from the server.
    await signIn(desktop.page, base, ALICE, 'Desktop')
    await desktop.page.getByTestId('nav-tasks').click()
    await expect.poll(() => taskTexts(desktop.page), { timeout: 15_000 }).toEqual(['Pack bag', 'Water plants'])
  }, 60_000)

  it('logs no console errors', () => {
    expect(log.problems).toEqual([])
  })
})
