/**
 * The session-expiry banner: "You'll be signed out in N s — Stay signed in" (idle: activity keeps
 * the session) or "Your session ends in N s — Sign in again" (absolute: only a new sign-in does).
 * Signing in again happens in a dialog over the open app: open drafts and unsynced edits stay.
 */
import { h, icon, toast, openDialog, type DialogHandle } from '../dom.js'
import { friendlyError, type Account, type Backend, type ExpiryWarning } from '../backend.js'
import { authForm } from './auth.js'

export interface ExpiryBannerOptions {
  backend: Backend
  account: Account
  /** Signed in again from the banner's dialog. */
  onSignedIn (account: Account): void
}

export const expiryBanner = (opts: ExpiryBannerOptions) => {
  const { backend } = opts
  const text = h('span', { class: 'grow', 'data-testid': 'expiry-text' })
  const action = h('button', { class: 'btn btn-primary btn-sm', type: 'button', 'data-testid': 'expiry-action' })
  const el = h('div', { class: 'live-banner banner-warn', role: 'alert', 'data-testid': 'expiry-banner', hidden: true }, icon('shield', 16), text, action)
  let warning: ExpiryWarning | null = null
  let tick: ReturnType<typeof setInterval> | undefined
  let dialog: DialogHandle | null = null

  const paint = () => {
    if (!warning) return
    const s = Math.max(0, Math.ceil((warning.expiresAt - Date.now()) / 1000))
    text.dataset.seconds = String(s)
    text.textContent = warning.kind === 'idle' ? `You’ll be signed out in ${s} s because of inactivity.` : `Your session ends in ${s} s.`
  }
  const show = (w: ExpiryWarning | null) => {
    warning = w
    clearInterval(tick)
    tick = undefined
    el.hidden = w === null
    if (!w) return
    el.dataset.kind = w.kind
    action.textContent = w.kind === 'idle' ? 'Stay signed in' : 'Sign in again'
    paint()
    tick = setInterval(paint, 250)
  }
  action.addEventListener('click', () => {
    if (warning?.kind === 'idle') {
      // Not `busy()`: it would restore this label over a new warning's (e.g. now `absolute`).
      action.disabled = true
      backend.staySignedIn().catch(err => toast(friendlyError(err), 'error')).finally(() => { action.disabled = false })
      return
    }
    if (dialog) return
    dialog = openDialog({
      title: 'Sign in again',
      className: 'reauth-dialog',
      onClose: () => { dialog = null },
      body: [
        h('p', { class: 'muted' }, 'Your open drafts stay as they are; nothing you typed is lost.'),
        authForm({
          backend,
          email: opts.account.email,
          deviceName: opts.account.deviceName,
          compact: true,
          onSignedIn: (acc) => { dialog?.close(); dialog = null; show(null); toast('Signed in again.', 'success'); opts.onSignedIn(acc) }
        })
      ]
    })
  })
  const off = backend.onExpiryWarning(show)

  return { el, destroy () { off(); clearInterval(tick); dialog?.close() } }
}
