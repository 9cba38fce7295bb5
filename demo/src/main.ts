/**
 * Tandem: boot, sign-in, routing, the "signed out on this device" prompt, and the service worker.
 */
import { h, icon, toast, openDialog, type DialogHandle } from './dom.js'
import { applyPreferences, currentPath, navigate, onRoute, DraftStore, type Ctx } from './app.js'
import { DEFAULT_PREFS, friendlyError, type Account, type Backend, type EndReason } from './backend.js'
import { createBackend } from './sdk-backend.js'
import { authPage, authForm } from './views/auth.js'
import { createShell, type Shell } from './views/shell.js'
import { homePage } from './views/drafts.js'
import { draftPage } from './views/draft.js'
import { devicesPage } from './views/devices.js'
import { settingsPage } from './views/settings.js'
import { pairPage } from './views/pair.js'
import { tvPage } from './views/tv.js'
import { adminPage } from './views/admin.js'

const root = document.getElementById('app')!

interface View { el: HTMLElement, destroy (): void }

let backend: Backend
let teardown: (() => void) | null = null

// ----------------------------------------------------------------------------------- signed out

const END_TEXT: Record<EndReason, string> = {
  revoked: 'This device was signed out from another device.',
  expired: 'Your session on this device expired.',
  'signed-out': 'You were signed out on this device.',
  'password-changed': 'Your password was changed on another device.',
  unknown: 'You were signed out on this device.'
}

let endedDialog: DialogHandle | null = null

/** The friendly prompt: never a raw error. Edits stay in this device's cache and sync after sign-in. */
const showSignedOut = (account: Account, reason: EndReason) => {
  if (endedDialog) return
  endedDialog = openDialog({
    title: 'Sign in again',
    className: 'signed-out-dialog',
    dismissable: false,
    body: [
      h('div', { class: 'signed-out-icon' }, icon('shield', 24)),
      h('p', { 'data-testid': 'signed-out-reason' }, END_TEXT[reason] ?? END_TEXT.unknown),
      h('p', { class: 'muted' }, 'Sign in again — your unsynced changes are kept on this device and sync as soon as you are back.'),
      authForm({
        backend,
        email: account.email,
        deviceName: account.deviceName,
        compact: true,
        onSignedIn: (acc) => { endedDialog?.close(); endedDialog = null; toast('Welcome back. Your changes are syncing.', 'success'); startApp(acc) }
      })
    ],
    actions: [h('button', {
      class: 'btn btn-ghost',
      type: 'button',
      onclick: () => { endedDialog?.close(); endedDialog = null; void backend.logout().catch(() => {}).finally(() => showAuth()) }
    }, 'Use another account')]
  })
}

// ------------------------------------------------------------------------------------- screens

const showAuth = () => {
  teardown?.()
  teardown = null
  applyPreferences(DEFAULT_PREFS)
  // Arriving from a TV's QR code: sign in, then go on to approve it.
  const keep = currentPath() === '/device'
  root.replaceChildren(authPage({ backend, onSignedIn: (acc) => { if (!keep) navigate('/', { replace: true }); startApp(acc) } }))
  document.title = keep ? 'Sign in to add a device · Tandem' : 'Sign in · Tandem'
}

/** The big-screen page: its own layout, no shell. */
const showTv = (account: Account | null) => {
  teardown?.()
  const view = tvPage({ backend, account })
  root.replaceChildren(view.el)
  teardown = () => view.destroy()
}

const startApp = (account: Account) => {
  teardown?.()
  const drafts = new DraftStore(backend, account.userId)
  let shell: Shell
  const ctx: Ctx = {
    backend,
    account,
    drafts,
    pendingCursor: null,
    // The top bar shows the account's sync (session document); an open draft shows its own.
    setStatusSource: (doc) => { shell.el.dataset.editor = doc ? 'open' : '' },
    signOut: async () => {
      try { await backend.logout() } catch (err) { toast(friendlyError(err), 'error') }
      showAuth()
    }
  }
  shell = createShell(ctx)
  shell.badge.bind(null)
  void backend.sessionDoc().then(d => { shell.badge.bind(d); applyPreferences(backend.preferences()) }, () => {})
  root.replaceChildren(shell.el)

  // Preferences apply once the session document is loaded (until then the theme applied before
  // first paint from localStorage stays, so there is no flash).
  const unsubState = backend.onSessionState(() => applyPreferences(backend.preferences()))
  const media = window.matchMedia('(prefers-color-scheme: dark)')
  const onMedia = () => applyPreferences(backend.preferences())
  media.addEventListener('change', onMedia)
  const unsubEnded = backend.onSessionEnded(reason => showSignedOut(account, reason))

  let view: View | null = null
  const route = () => {
    view?.destroy()
    const path = currentPath()
    const m = path.match(/^\/d\/([^/]+)$/)
    if (m) view = draftPage(ctx, decodeURIComponent(m[1]!))
    else if (path === '/devices') view = devicesPage(ctx)
    else if (path === '/device') view = pairPage(ctx, new URLSearchParams(location.search).get('code') ?? '')
    else if (path === '/settings') view = settingsPage(ctx)
    else if (path === '/admin') view = adminPage(ctx)
    else { if (path !== '/') history.replaceState(null, '', '/'); view = homePage(ctx) }
    shell.main.replaceChildren(view.el)
    shell.refreshNav()
    shell.closeDrawer()
    const title = m ? (drafts.get(m[1]!)?.title ?? 'Draft') : path === '/devices' ? 'Devices' : path === '/device' ? 'Add a device' : path === '/settings' ? 'Settings' : path === '/admin' ? 'Admin' : 'Drafts'
    document.title = `${title} · Tandem`
    shell.main.scrollTop = 0
  }
  const unsubRoute = onRoute(route)
  route()
  void drafts.refresh()
  const onOnline = () => void drafts.refresh()
  window.addEventListener('online', onOnline)
  const poll = setInterval(() => { if (document.visibilityState === 'visible' && navigator.onLine) void drafts.refresh() }, 15_000)

  // New-draft shortcut from the installed app's menu (manifest "shortcuts").
  if (new URLSearchParams(location.search).get('new') === '1') {
    history.replaceState(null, '', '/')
    shell.el.querySelector<HTMLButtonElement>('[data-testid="new-draft"]')?.click()
  }

  teardown = () => {
    view?.destroy()
    unsubRoute()
    unsubState()
    unsubEnded()
    media.removeEventListener('change', onMedia)
    window.removeEventListener('online', onOnline)
    clearInterval(poll)
    shell.destroy()
  }
}

// -------------------------------------------------------------------------------- service worker

const registerServiceWorker = async () => {
  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return
  try {
    const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' })
    const offerUpdate = (worker: ServiceWorker) => {
      if (document.querySelector('.update-bar')) return
      const bar = h('div', { class: 'update-bar', role: 'status' },
        h('span', null, 'A new version of Tandem is available.'),
        h('button', { class: 'btn btn-primary btn-sm', type: 'button', onclick: () => { worker.postMessage('skip-waiting') } }, 'Reload'),
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Later', onclick: () => bar.remove() }, icon('close', 16)))
      document.body.append(bar)
    }
    if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting)
    reg.addEventListener('updatefound', () => {
      const worker = reg.installing
      worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker)
      })
    })
    let reloading = false
    const hadController = Boolean(navigator.serviceWorker.controller)
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (!hadController || reloading) return
      reloading = true
      location.reload()
    })
  } catch {
    // No service worker (private mode, unsupported): the app still works online.
  }
}

// ------------------------------------------------------------------------------------------ boot

const boot = async () => {
  // VITE_MOCK=1 (UI work without a server) is replaced at build time; real builds drop this branch.
  backend = import.meta.env.VITE_MOCK ? (await import('./mock-backend.js')).createMockBackend() : createBackend()
  let account: Account | null
  try {
    account = await backend.restore()
  } catch {
    account = null
  }
  if (currentPath() === '/tv') showTv(account)
  else if (account) startApp(account)
  else showAuth()
  void registerServiceWorker()
}

window.addEventListener('unhandledrejection', (e) => {
  // Last line of defence: a friendly toast, never a raw error in the console or the page.
  e.preventDefault()
  toast(friendlyError(e.reason), 'error')
})

void boot()
