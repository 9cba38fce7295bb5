/**
 * App-wide state shared by the views: the signed-in account, the drafts list (cached on the device
 * so that it shows offline), preferences applied to the page, and the router.
 */
import type { Account, Backend, DocInfo, OpenDoc, Preferences } from './backend.js'

// ------------------------------------------------------------------------------------- router

type RouteListener = () => void
const routeListeners = new Set<RouteListener>()

export const currentPath = () => location.pathname

export const navigate = (path: string, opts: { replace?: boolean } = {}) => {
  if (path === location.pathname + location.search) { for (const fn of routeListeners) fn(); return }
  if (opts.replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  for (const fn of routeListeners) fn()
}

export const onRoute = (fn: RouteListener) => { routeListeners.add(fn); return () => { routeListeners.delete(fn) } }

window.addEventListener('popstate', () => { for (const fn of routeListeners) fn() })

/** Same-origin links with `data-link` navigate without a page load. */
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = (e.target as Element | null)?.closest?.('a[data-link]') as HTMLAnchorElement | null
  if (!a || a.origin !== location.origin) return
  e.preventDefault()
  navigate(a.pathname + a.search)
})

// -------------------------------------------------------------------------------- preferences

const media = window.matchMedia('(prefers-color-scheme: dark)')

export const applyPreferences = (p: Preferences) => {
  const dark = p.theme === 'dark' || (p.theme === 'system' && media.matches)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
  document.documentElement.dataset.themePref = p.theme
  document.documentElement.style.setProperty('--editor-font-size', `${p.fontSize}px`)
  try { localStorage.setItem('tandem.theme', p.theme === 'system' ? '' : p.theme) } catch { /* private mode */ }
  const meta = document.querySelectorAll<HTMLMetaElement>('meta[name="theme-color"]')
  for (const m of meta) m.content = dark ? '#17182b' : '#ffffff'
}

// ---------------------------------------------------------------------------------- drafts

/** The drafts list. Kept in localStorage per user so that the list shows with no network. */
export class DraftStore {
  docs: DocInfo[] = []
  loaded = false
  /** The last refresh failed (offline, most likely): the list may be stale. */
  stale = false
  private listeners = new Set<() => void>()
  private readonly key: string

  constructor (private readonly backend: Backend, userId: string) {
    this.key = `tandem.drafts.${userId}`
    try {
      const raw = localStorage.getItem(this.key)
      if (raw) { this.docs = JSON.parse(raw) as DocInfo[]; this.loaded = true }
    } catch { /* ignore a corrupt cache */ }
  }

  get mine () { return this.docs.filter(d => d.role === 'owner').sort(byUpdated) }
  get shared () { return this.docs.filter(d => d.role !== 'owner').sort(byUpdated) }
  get (id: string) { return this.docs.find(d => d.id === id) }

  subscribe (fn: () => void) { this.listeners.add(fn); return () => { this.listeners.delete(fn) } }
  private emit () { for (const fn of this.listeners) fn() }
  private save () { try { localStorage.setItem(this.key, JSON.stringify(this.docs)) } catch { /* quota */ } }

  async refresh (): Promise<void> {
    try {
      const docs = await this.backend.listDrafts()
      this.docs = docs
      this.stale = false
      this.loaded = true
      this.save()
    } catch (err) {
      // Offline: keep showing the list saved on this device. Other failures (signed out) keep it quietly.
      this.stale = (err as { code?: string }).code === 'offline' || !navigator.onLine
      this.loaded = true
    }
    this.emit()
  }

  upsert (d: DocInfo) {
    const i = this.docs.findIndex(x => x.id === d.id)
    if (i >= 0) this.docs[i] = { ...this.docs[i], ...d }
    else this.docs.push(d)
    this.save()
    this.emit()
  }

  remove (id: string) {
    this.docs = this.docs.filter(d => d.id !== id)
    this.save()
    this.emit()
  }
}

const byUpdated = (a: DocInfo, b: DocInfo) => b.updatedAt - a.updatedAt

// ------------------------------------------------------------------------------------ context

export interface Ctx {
  backend: Backend
  account: Account
  drafts: DraftStore
  /** Show this open document's status in the top bar (null: the session document's). */
  setStatusSource (doc: OpenDoc | null): void
  /** A caret to restore when the next editor opens ("continue where you left off"). */
  pendingCursor: { docId: string, cursor: unknown } | null
  /** With `wipe`, also delete this device's copy of the account. */
  signOut (opts?: { wipe?: boolean }): Promise<void>
}
