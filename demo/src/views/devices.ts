/** The session dashboard: every signed-in device, online now or last seen; sign one or all others out. */
import { h, icon, clear, toast, confirmDialog, openDialog, relativeTime, busy } from '../dom.js'

/** Ask before signing a device out; `wipe`: also have it delete its local data. Null when cancelled. */
const revokeDialog = (s: SessionInfo): Promise<{ wipe: boolean } | null> => new Promise(resolve => {
  let answer: { wipe: boolean } | null = null
  const wipe = h('input', { type: 'checkbox', id: 'revoke-wipe', 'data-testid': 'revoke-wipe' })
  const d = openDialog({
    title: `Sign out ${s.deviceName}?`,
    body: [
      h('p', null, 'That device is signed out at once. Edits it has not synced yet stay on it until someone signs in there again.'),
      h('label', { class: 'row', for: 'revoke-wipe', style: 'gap:8px;align-items:flex-start' }, wipe,
        h('span', null, 'Also remove this device’s data: its saved drafts, sign-in and device key are deleted when it next connects (a lost or shared device).'))
    ],
    actions: [
      h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'),
      h('button', { class: 'btn btn-danger', type: 'button', 'data-autofocus': true, onclick: () => { answer = { wipe: wipe.checked }; d.close() } }, 'Sign out')
    ],
    onClose: () => resolve(answer)
  })
})
import type { Ctx } from '../app.js'
import { friendlyError, errorCode, type SessionInfo } from '../backend.js'
import { onCodeSubmit } from './code-form.js'
import { describeUserAgent, platformIcon, platformLabel } from '../device.js'
import { alertBanner } from './alerts.js'

/** "192.168.1.x": enough to recognise a network without printing the full address. */
export const ipHint = (ip: string): string => {
  if (!ip) return ''
  const v4 = ip.replace(/^::ffff:/, '')
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4)) {
    if (v4 === '127.0.0.1') return 'this computer (localhost)'
    return v4.split('.').slice(0, 3).join('.') + '.x'
  }
  if (ip === '::1') return 'this computer (localhost)'
  return ip.split(':').slice(0, 3).join(':') + ':…'
}

/** Ask for the authenticator code (or a passkey) and call step-up. Resolves false when cancelled. */
export const stepUpPrompt = (ctx: Ctx, why: string): Promise<boolean> => new Promise(resolve => {
  let ok = false
  const error = h('div', { class: 'form-error', role: 'alert' })
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: 'step-up-form' }, 'Confirm')
  const passkey = ctx.backend.passkeysSupported()
    ? h('button', { class: 'btn btn-block', type: 'button', 'data-testid': 'step-up-passkey' }, icon('fingerprint', 16), 'Use a passkey instead')
    : null
  const form = h('form', { id: 'step-up-form' },
    h('p', null, why),
    error,
    h('div', { class: 'field' },
      h('label', { for: 'step-up-code' }, 'Authenticator code'),
      h('input', { class: 'input input-code', id: 'step-up-code', name: 'code', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 32, required: true })),
    passkey)
  passkey?.addEventListener('click', () => void busy(passkey, async () => {
    try {
      await ctx.backend.stepUpWithPasskey()
      ok = true
      d.close()
    } catch (err) { error.textContent = friendlyError(err) }
  }))
  const d = openDialog({
    title: 'Confirm it is you',
    className: 'step-up-dialog',
    body: form,
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit],
    onClose: () => resolve(ok)
  })
  onCodeSubmit(form, submit, error, async code => { await ctx.backend.stepUp(code); ok = true; d.close() })
})

/**
 * Run a sensitive action: with MFA on, ask for a fresh code first (step-up), and again if the server
 * asks for one anyway. Resolves false when the user cancelled.
 */
export const withStepUp = async (ctx: Ctx, why: string, fn: () => Promise<void>): Promise<boolean> => {
  if (ctx.account.mfaEnabled && !(await stepUpPrompt(ctx, why))) return false
  try {
    await fn()
    return true
  } catch (err) {
    if (errorCode(err) !== 'step_up_required') throw err
    if (!(await stepUpPrompt(ctx, why))) return false
    await fn()
    return true
  }
}

export const devicesPage = (ctx: Ctx) => {
  const list = h('div', { class: 'device-list', 'data-testid': 'device-list', 'aria-live': 'polite' })
  const note = h('p', { class: 'muted small' })
  const othersBtn = h('button', { class: 'btn btn-danger', type: 'button', 'data-testid': 'revoke-others', onclick: () => void revokeOthers() }, icon('logout', 16), 'Sign out all other devices')
  const alerts = alertBanner(ctx)
  const el = h('div', { class: 'page devices' },
    alerts.el,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Devices'), h('p', { class: 'muted', style: 'margin:4px 0 0' }, 'Every device signed in to your account. A green dot means it is connected now.')),
      h('span', { class: 'spacer' }),
      h('a', { class: 'btn', href: '/device', 'data-link': true, 'data-testid': 'add-device' }, icon('tv', 16), 'Add a device'),
      othersBtn),
    list, note)

  let sessions: SessionInfo[] = []
  let destroyed = false

  const render = () => {
    clear(list)
    for (const s of sessions) {
      const wipePending = s.wipe === 'pending'
      const online = !wipePending && (s.online > 0 || s.current)
      const facts = wipePending
        ? [platformLabel(s.platform), s.endedAt ? `Signed out ${relativeTime(s.endedAt)}` : 'Signed out']
        : [
        platformLabel(s.platform),
        describeUserAgent(s.userAgent),
        s.current ? 'Active now' : online ? 'Online now' : `Last seen ${relativeTime(s.lastSeenAt)}`,
        s.lastIp ? `IP ${ipHint(s.lastIp)}` : '',
        `Signed in ${relativeTime(s.createdAt)}`
      ].filter(Boolean)
      list.append(h('article', { class: 'device', 'data-testid': 'device', 'data-session': s.id, 'data-current': s.current ? '1' : undefined },
        h('div', { class: 'device-icon', 'aria-hidden': 'true' }, icon(platformIcon(s.platform), 22), h('span', { class: 'online-dot', 'data-online': String(online) })),
        h('div', { style: 'min-width:0' },
          h('div', { class: 'name' }, s.deviceName, s.current ? h('span', { class: 'this-device' }, 'This device') : null,
            wipePending ? h('span', { class: 'role-tag', 'data-testid': 'will-be-wiped', title: 'Its local data is deleted as soon as it connects.' }, 'Will be wiped') : null,
            h('span', { class: 'sr-only' }, online ? ' (online)' : ' (offline)')),
          h('div', { class: 'facts' }, facts.map(f => h('span', null, f)))),
        h('div', { class: 'actions' },
          s.current || wipePending
            ? null
            : h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'revoke', 'aria-label': `Sign out ${s.deviceName}`, onclick: () => void revoke(s) }, 'Sign out'))))
    }
    othersBtn.disabled = sessions.filter(s => !s.current && s.wipe !== 'pending').length === 0
  }

  const load = async () => {
    try {
      sessions = (await ctx.backend.listDevices()).sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt)
      note.textContent = ''
      if (!destroyed) render()
    } catch (err) {
      if (!sessions.length) { clear(list); list.append(h('div', { class: 'card empty' }, icon('cloudOff', 28), h('p', null, friendlyError(err)))) }
      note.textContent = navigator.onLine ? '' : 'Offline: this list is from earlier.'
    }
  }


  const revoke = async (s: SessionInfo) => {
    const answer = await revokeDialog(s)
    if (!answer) return
    try {
      await ctx.backend.revokeDevice(s.id, answer)
      toast(answer.wipe ? `${s.deviceName} was signed out; its data is removed when it connects.` : `${s.deviceName} was signed out.`, 'success')
    } catch (err) { toast(friendlyError(err), 'error') }
    await load()
  }

  const revokeOthers = async () => {
    const n = sessions.filter(s => !s.current).length
    if (!(await confirmDialog('Sign out all other devices?', `${n} other device${n === 1 ? '' : 's'} will be signed out. This device stays signed in.`, 'Sign out others', true))) return
    try {
      if (await withStepUp(ctx, 'Signing out your other devices needs a fresh code from your authenticator app.', () => ctx.backend.revokeOtherDevices())) {
        toast('All other devices were signed out.', 'success')
      }
    } catch (err) { toast(friendlyError(err), 'error') }
    await load()
  }

  list.append(h('p', { class: 'muted' }, 'Loading devices…'))
  void load()
  const timer = setInterval(() => { if (document.visibilityState === 'visible') void load() }, 5000)
  return { el, destroy () { destroyed = true; clearInterval(timer); alerts.destroy() } }
}
