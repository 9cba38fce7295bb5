import fs from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page, type ConsoleMessage } from 'playwright-core'

/** Debian's package (`apt-get install chromium`, done by .ci/run). npm cannot download browsers here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../.screenshots')

export const chromiumAvailable = () => fs.existsSync(CHROMIUM_PATH)

/**
 * Headless Chromium with a fresh profile: Playwright's `launch` creates a new temporary user-data
 * dir for every browser and deletes it on close. Each `newContext()` is then one "device": its own
 * cookies, localStorage, IndexedDB, service worker and network switch.
 */
export const launchBrowser = async (): Promise<Browser> => {
  if (!chromiumAvailable()) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH`)
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-dev-shm-usage', '--disable-renderer-backgrounding', '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows'
    ]
  })
}

export interface ProblemLog {
  /** Uncaught exceptions and console.error/warning lines, with the page they came from. */
  problems: string[]
  /** Network-level lines Chromium itself prints (failed loads, refused sockets); judged separately. */
  network: string[]
}

/** Console lines Chromium writes about the network itself, not about the app's code. */
const NETWORK_NOISE = [/^Failed to load resource/, /^WebSocket connection to .* failed/, /net::ERR_INTERNET_DISCONNECTED/, /net::ERR_NETWORK_CHANGED/]

/** Records every console error and uncaught exception of a page. */
export const watchConsole = (page: Page, label: string, log: ProblemLog) => {
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return
    const text = msg.text()
    if (NETWORK_NOISE.some(re => re.test(text))) log.network.push(`[${label}] ${text}`)
    else log.problems.push(`[${label}] console.${msg.type()}: ${text}`)
  })
  page.on('pageerror', err => log.problems.push(`[${label}] uncaught: ${err.message}`))
}

/** A device: a browser context with a fixed viewport and a page whose console is watched. */
export const newDevice = async (browser: Browser, label: string, log: ProblemLog, opts: { viewport?: { width: number, height: number }, isMobile?: boolean, userAgent?: string } = {}): Promise<{ context: BrowserContext, page: Page }> => {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    isMobile: opts.isMobile,
    hasTouch: opts.isMobile,
    userAgent: opts.userAgent,
    serviceWorkers: 'allow',
    locale: 'en-US',
    timezoneId: 'UTC'
  })
  context.setDefaultTimeout(15_000)
  const page = await context.newPage()
  watchConsole(page, label, log)
  return { context, page }
}

export const screenshot = async (page: Page, name: string, fullPage = false) => {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const file = path.join(SCREENSHOT_DIR, `${name}.png`)
  await page.screenshot({ path: file, fullPage, animations: 'disabled', caret: 'initial' })
  return file
}
