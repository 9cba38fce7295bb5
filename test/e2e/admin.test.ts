/**
 * The admin page in a real browser against the real server: an admin sees charts of real sessions
 * made by a second browser context (another user), and force-logs that user out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { chromiumAvailable, launchBrowser, newDevice, screenshot, type ProblemLog } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { grantAdmin } from '../helpers/admin.js'
import { signUp } from '../helpers/demo.js'
import { ensureDemoBuilt } from '../../demo/build.js'

if (process.env.CI && !chromiumAvailable()) throw new Error('CI=true but Chromium is missing: .ci/run should have installed it')

const ADMIN = 'root@example.com'
const BOB = 'bob@example.com'

/** A chart's data total once drawn, after asking the page to reload its figures. */
const chartTotal = async (page: Page, id: string): Promise<number> => {
  await page.getByTestId('admin-refresh').click()
  const canvas = page.getByTestId(`chart-${id}`)
  if (await canvas.getAttribute('data-rendered') !== 'true') return -1
  return Number(await canvas.getAttribute('data-total'))
}

describe.skipIf(!chromiumAvailable() && !process.env.CI)('demo admin page (Chromium)', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  let browser: Browser
  const log: ProblemLog = { problems: [], network: [] }

  beforeAll(async () => {
    ensureDemoBuilt({ quiet: true })
    server = await startServer({ insecureNoAuth: false, unloadGraceMs: 2000, analyticsFlushMs: 1000 })
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('an admin sees charts of real sessions, finds a user and signs them out everywhere', async () => {
    const base = server.url
    const admin = await newDevice(browser, 'admin', log)
    await signUp(admin.page, base, ADMIN, 'Admin laptop')
    // Not an admin yet: no admin link, and the API refuses.
    await expect.poll(() => admin.page.evaluate(() => document.querySelector('.nav-admin-slot') !== null)).toBe(true)
    expect(await admin.page.getByTestId('nav-admin').count()).toBe(0)
    await grantAdmin(server, ADMIN)

    const bob = await newDevice(browser, 'bob', log)
    await signUp(bob.page, base, BOB, 'Bob phone')
    // Bob's device is online: its session document syncs.
    await expect.poll(() => bob.page.locator('[data-status]').first().getAttribute('data-status'), { timeout: 15_000 }).toBe('synced')

    await admin.page.reload()
    await admin.page.getByTestId('nav-admin').click()
    await admin.page.waitForURL(/\/admin$/)
    // Two accounts signed up (two sessions, both from the web), both online today.
    await expect.poll(() => chartTotal(admin.page, 'sessions'), { timeout: 20_000 }).toBe(2)
    await expect.poll(() => chartTotal(admin.page, 'platforms'), { timeout: 20_000 }).toBe(2)
    await expect.poll(() => chartTotal(admin.page, 'active'), { timeout: 20_000 }).toBe(2)
    expect(await admin.page.getByTestId('stat-dau').locator('.value').textContent()).toBe('2')
    expect(await admin.page.getByTestId('stat-started').locator('.value').textContent()).toBe('2')
    for (const id of ['active', 'sessions', 'platforms', 'usage']) {
      const box = await admin.page.getByTestId(`chart-${id}`).boundingBox()
      expect(box?.width, id).toBeGreaterThan(100)
      expect(box?.height, id).toBeGreaterThan(100)
    }
    await screenshot(admin.page, 'admin-analytics', true)

    await admin.page.getByTestId('admin-search').fill('bob')
    await admin.page.locator(`[data-testid="admin-user"]`, { hasText: BOB }).click()
    await expect.poll(() => admin.page.getByTestId('admin-selected').textContent()).toBe(BOB)
    await expect.poll(() => admin.page.getByTestId('admin-session').count()).toBe(1)
    expect(await admin.page.getByTestId('admin-session').textContent()).toContain('Bob phone')
    await expect.poll(() => admin.page.locator('[data-testid="admin-event"][data-kind="login_ok"]').count()).toBeGreaterThan(0)

    await admin.page.getByTestId('admin-logout-all').click()
    await admin.page.locator('dialog .dialog-actions .btn-danger').click()
    // Bob's device shows the sign-in prompt; the admin's list is empty.
    await bob.page.getByTestId('signed-out-reason').waitFor({ timeout: 20_000 })
    await expect.poll(() => admin.page.getByTestId('admin-session').count()).toBe(0)
    await expect.poll(() => chartTotal(admin.page, 'sessions')).toBe(2)
    await screenshot(bob.page, 'admin-bob-signed-out')
    expect(log.problems).toEqual([])
  })
})
