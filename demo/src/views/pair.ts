/**
 * "Add a device" (`/device`, the pairing code's verification URI): the person types the code a TV
 * shows, or arrives here from its QR code with the code filled in, sees what asks to be added, and
 * approves or denies it. Approving gives that device a session of this account, so the screen says
 * plainly what is being approved and warns against codes someone else sent (device-code phishing).
 */
import { h, icon, busy, relativeTime, val } from '../dom.js'
import type { Ctx } from '../app.js'
import { friendlyError, type PairingRequestInfo } from '../backend.js'
import { describeUserAgent, platformIcon, platformLabel } from '../device.js'
import { ipHint, withStepUp } from './devices.js'

export const pairPage = (ctx: Ctx, initialCode: string) => {
  const body = h('div', { class: 'pair-body' })
  const el = h('div', { class: 'page pair-page' },
    h('div', { class: 'page-head' },
      h('div', null,
        h('h1', null, 'Add a device'),
        h('p', { class: 'muted', style: 'margin:4px 0 0' }, 'Sign in a TV or another device with the code it shows: no password typed on it.'))),
    body)
  let destroyed = false

  const renderEntry = (code = '', problem = '') => {
    const error = h('div', { class: 'form-error', role: 'alert' }, problem)
    const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Continue', icon('arrowRight', 16))
    const form = h('form', { class: 'card pair-form', 'aria-label': 'Pairing code' },
      h('label', { for: 'pair-code', class: 'label' }, 'Code shown on the new device'),
      error,
      h('div', { class: 'pair-entry' },
        h('input', {
          class: 'input input-code pair-code-input', id: 'pair-code', name: 'code', value: code, placeholder: 'XXXX-XXXX', maxLength: 12,
          autocomplete: 'off', autocapitalize: 'characters', spellcheck: false, required: true, 'data-testid': 'pair-code'
        }),
        submit),
      h('p', { class: 'hint' }, 'On the TV, open Tandem and choose “Sign in with a code”. Letters only; case and the hyphen do not matter.'))
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const typed = val(form, 'code')
      if (!typed) { error.textContent = 'Enter the code.'; return }
      void busy(submit, () => lookup(typed, error))
    })
    body.replaceChildren(form)
    queueMicrotask(() => { if (!code) form.querySelector<HTMLInputElement>('#pair-code')?.focus() })
  }

  const lookup = async (code: string, error?: HTMLElement) => {
    try {
      const info = await ctx.backend.lookupPairing(code)
      if (!destroyed) renderRequest(info)
    } catch (err) {
      if (error) error.textContent = friendlyError(err)
      else renderEntry(code, friendlyError(err))
    }
  }

  const renderRequest = (info: PairingRequestInfo) => {
    const error = h('div', { class: 'form-error', role: 'alert' })
    const facts = [
      platformLabel(info.device.platform),
      describeUserAgent(info.userAgent),
      `Asked ${relativeTime(info.requestedAt)}`,
      `from IP ${ipHint(info.ip)}`,
      info.sameNetwork ? 'same network as this device' : 'a different network from this device',
      `code expires ${new Date(info.expiresAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`
    ].filter(Boolean)
    const approve = h('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'pair-approve' }, icon('check', 16), 'Approve and sign it in')
    const deny = h('button', { class: 'btn', type: 'button', 'data-testid': 'pair-deny' }, 'Deny')
    body.replaceChildren(h('section', { class: 'card pair-request', 'data-testid': 'pair-request', 'aria-labelledby': 'pair-request-h' },
      h('h2', { id: 'pair-request-h' }, h('span', null, 'Sign in this device to ', h('strong', null, ctx.account.email), '?')),
      h('article', { class: 'device pair-device' },
        h('div', { class: 'device-icon', 'aria-hidden': 'true' }, icon(platformIcon(info.device.platform), 22)),
        h('div', { style: 'min-width:0' },
          h('div', { class: 'name', 'data-testid': 'pair-device-name' }, info.device.name),
          h('div', { class: 'facts', 'data-testid': 'pair-facts' }, facts.map(f => h('span', null, f)))),
        h('div', { class: 'pair-code-shown', 'aria-label': 'Code' }, info.userCode)),
      h('div', { class: `pair-warning${info.sameNetwork ? '' : ' strong'}`, role: 'note', 'data-testid': 'pair-warning' },
        icon('shield', 20),
        h('div', null,
          h('strong', null, 'Only approve a device you can see in front of you.'),
          h('p', null, 'Check that the name and code match what its screen shows. If someone sent you this code, or asked you to enter it, deny it: whoever shows the code gets into your account.'))),
      error,
      h('div', { class: 'pair-actions' }, deny, approve)))

    approve.addEventListener('click', () => void busy(approve, async () => {
      try {
        const done = await withStepUp(ctx, 'Adding a device to your account needs a fresh second factor.', () => ctx.backend.approvePairing(info.userCode))
        if (done && !destroyed) renderDone(info, true)
      } catch (err) { error.textContent = friendlyError(err) }
    }))
    deny.addEventListener('click', () => void busy(deny, async () => {
      try {
        await ctx.backend.denyPairing(info.userCode)
        if (!destroyed) renderDone(info, false)
      } catch (err) { error.textContent = friendlyError(err) }
    }))
  }

  const renderDone = (info: PairingRequestInfo, approved: boolean) => {
    body.replaceChildren(h('section', { class: 'card empty pair-done', role: 'status', 'data-testid': approved ? 'pair-approved' : 'pair-denied' },
      icon(approved ? 'check' : 'close', 28),
      h('h2', null, approved ? `${info.device.name} is signing in` : 'Request denied'),
      h('p', null, approved
        ? 'It shows your account in a moment and appears on your Devices page, where you can sign it out at any time.'
        : 'That device was not signed in. If you did not start this, your account is safe: nothing was shared.'),
      h('div', { class: 'pair-actions' },
        h('a', { class: 'btn', href: '/devices', 'data-link': true }, icon('devices', 16), 'Devices'),
        h('button', { class: 'btn btn-ghost', type: 'button', onclick: () => renderEntry() }, 'Add another device'))))
  }

  if (initialCode) {
    body.replaceChildren(h('p', { class: 'muted' }, 'Looking up the code…'))
    void lookup(initialCode)
  } else {
    renderEntry()
  }
  return { el, destroy () { destroyed = true } }
}
