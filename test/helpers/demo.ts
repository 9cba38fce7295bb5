/** Steps of the demo app shared by the browser suites (test/e2e): sign-up, sign-in, the editor's text. */
import type { Page } from 'playwright-core'

export const PASSWORD = 'correct horse battery staple'

const fillAuth = async (page: Page, email: string, deviceName: string) => {
  await page.fill('#auth-email', email)
  await page.fill('#auth-password', PASSWORD)
  await page.fill('#auth-device', deviceName)
}

export const signUp = async (page: Page, base: string, email: string, deviceName: string) => {
  await page.goto(base + '/')
  await page.getByRole('tab', { name: 'Create account' }).click()
  await fillAuth(page, email, deviceName)
  await page.getByRole('button', { name: 'Create account', exact: true }).click()
  await page.waitForSelector('.shell')
}

export const signIn = async (page: Page, base: string, email: string, deviceName: string) => {
  await page.goto(base + '/')
  await fillAuth(page, email, deviceName)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForSelector('.shell')
}

/** The draft's text as CodeMirror shows it, without remote carets and their name labels. */
export const editorText = (page: Page) => page.evaluate(() => {
  const content = document.querySelector('.cm-content')
  if (!content) return ''
  const clone = content.cloneNode(true) as HTMLElement
  for (const w of clone.querySelectorAll('.cm-ySelectionCaret, .cm-ySelectionInfo, .cm-widgetBuffer, .cm-placeholder, img')) w.remove()
  return [...clone.querySelectorAll('.cm-line')].map(l => (l.textContent ?? '').replace(/\u2060/g, '')).join('\n')
})

export const typeAtEnd = async (page: Page, text: string) => {
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text)
}

/** The top bar's sync status (the account's session document). */
export const topStatus = (page: Page) => page.locator('.topbar [data-testid="sync-status"]')
