/**
 * Security alerts as a banner: "New sign-in on a TV in Berlin — was this you?" with "Yes, it was me"
 * and "No, sign it out". Open alerts are loaded once, new ones and answers from other devices arrive
 * live (SDK `securityAlert` events on the session document's socket).
 */
import { h, icon, clear, toast, busy } from '../dom.js'
import type { Ctx } from '../app.js'
import { friendlyError, type SecurityAlert } from '../backend.js'
import { platformLabel } from '../device.js'
import { ipHint } from './devices.js'

const where = (a: SecurityAlert): string => (a.place ? ` in ${a.place}` : a.ip ? ` from ${ipHint(a.ip)}` : '')
const deviceName = (a: SecurityAlert): string => (a.device ? `${a.device.name} (${platformLabel(a.device.platform)})` : 'a device')

/** One sentence per alert, strongest signal first. */
export const alertHeadline = (a: SecurityAlert): string => {
  switch (a.signal) {
    case 'concurrent_networks': return `${deviceName(a)} was used from two networks at once${where(a)}.`
    case 'impossible_travel': return `New sign-in on ${deviceName(a)}${where(a)}, too far from where you were just now.`
    case 'failed_login_burst': return `Several failed sign-ins to your account${where(a)}.`
    case 'refresh_reuse': return `A copy of the sign-in of ${deviceName(a)} was used${where(a)}; that device was signed out.`
    case 'session_burst': return `Many new sign-ins to your account in a few minutes${where(a)}.`
    default: return `New sign-in on ${deviceName(a)}${where(a)}.`
  }
}

export const alertBanner = (ctx: Ctx) => {
  const el = h('div', { class: 'security-alerts', 'data-testid': 'security-alerts', 'aria-live': 'assertive', style: 'display:grid;gap:8px;margin-bottom:12px;border-radius:8px;overflow:hidden' })
  const open = new Map<string, SecurityAlert>()
  const b = ctx.backend
  // Alerts about this very session are for the other devices to answer.
  const add = (a: SecurityAlert) => { if (a.sessionId !== ctx.account.sessionId) open.set(a.id, a) }

  const answer = async (a: SecurityAlert, signOut: boolean) => {
    try {
      if (signOut) await b.signOutAlertSession!(a.id)
      else await b.confirmAlert!(a.id)
      open.delete(a.id)
      toast(signOut ? `${deviceName(a)} was signed out.` : 'Thanks: marked as you.', 'success')
      render()
    } catch (err) { toast(friendlyError(err), 'error') }
  }

  const render = () => {
    clear(el)
    for (const a of [...open.values()].sort((x, y) => y.at - x.at)) {
      const yes = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'alert-confirm' }, 'Yes, it was me')
      const no = a.sessionId && a.action !== 'revoke' && a.signal !== 'refresh_reuse'
        ? h('button', { class: 'btn btn-sm btn-danger', type: 'button', 'data-testid': 'alert-sign-out' }, 'No, sign it out')
        : null
      yes.addEventListener('click', () => void busy(yes, () => answer(a, false)))
      no?.addEventListener('click', () => void busy(no, () => answer(a, true)))
      el.append(h('div', { class: 'banner banner-warn', role: 'alert', 'data-testid': 'security-alert', 'data-alert': a.id },
        icon('shield', 18), h('span', { style: 'flex:1' }, alertHeadline(a), ' Was this you?'), yes, no))
    }
  }

  const off = b.onSecurityAlert?.(e => {
    if ('alert' in e) add(e.alert)
    else open.delete(e.resolved)
    render()
  }) ?? (() => {})
  void b.securityAlerts?.().then(list => { for (const a of list) add(a); render() }, () => {})
  return { el, destroy: off }
}
