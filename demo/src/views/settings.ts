/** Settings: appearance (synced to every device), two-factor authentication, password, account. */
import QRCode from 'qrcode'
import { h, icon, clear, toast, openDialog, busy, confirmDialog, relativeTime, val } from '../dom.js'
import type { Ctx } from '../app.js'
import { friendlyError, type PasskeyInfo, type Theme } from '../backend.js'
import { FONT_SIZES } from '../model.js'
import { onCodeSubmit } from './code-form.js'
import { withStepUp } from './devices.js'

const seg = <T extends string | number>(label: string, options: Array<{ value: T, label: string, icon?: string }>, current: T, onPick: (v: T) => void, testid: string) =>
  h('div', { class: 'seg', role: 'group', 'aria-label': label, 'data-testid': testid },
    options.map(o => h('button', {
      type: 'button',
      'aria-pressed': String(o.value === current),
      'data-value': String(o.value),
      onclick: () => onPick(o.value)
    }, o.icon ? icon(o.icon, 16) : null, o.label)))

export const settingsPage = (ctx: Ctx) => {
  const el = h('div', { class: 'page settings' })
  const appearance = h('section', { class: 'card', 'aria-labelledby': 'appearance-h' })
  const security = h('section', { class: 'card', 'aria-labelledby': 'security-h' })
  const passkeys = h('section', { class: 'card', 'aria-labelledby': 'passkeys-h', 'data-testid': 'passkeys' })
  const password = h('section', { class: 'card', 'aria-labelledby': 'password-h' })
  const account = h('section', { class: 'card', 'aria-labelledby': 'account-h' })
  el.append(h('div', { class: 'page-head' }, h('h1', null, 'Settings')), appearance, security, passkeys, password, account)
  let destroyed = false

  const renderAppearance = () => {
    const p = ctx.backend.preferences()
    const focused = (document.activeElement as HTMLElement | null)?.closest?.('[data-testid]')?.getAttribute('data-testid')
    const focusedValue = (document.activeElement as HTMLElement | null)?.dataset?.value
    clear(appearance)
    appearance.append(
      h('h2', { id: 'appearance-h' }, icon('sun'), 'Appearance'),
      h('p', { class: 'card-sub' }, 'Saved to your account: every device you sign in on uses the same settings, even ones that were offline when you changed them.'),
      h('div', { class: 'setting' },
        h('div', null, h('div', { class: 'label' }, 'Theme'), h('div', { class: 'desc' }, 'System follows this device’s light or dark mode.')),
        seg<Theme>('Theme', [{ value: 'system', label: 'System' }, { value: 'light', label: 'Light', icon: 'sun' }, { value: 'dark', label: 'Dark', icon: 'moon' }],
          p.theme, v => ctx.backend.setPreferences({ theme: v }), 'theme')),
      h('div', { class: 'setting' },
        h('div', null, h('div', { class: 'label' }, 'Editor text size'), h('div', { class: 'desc' }, `${p.fontSize} px`)),
        seg<number>('Editor text size', FONT_SIZES.map(s => ({ value: s, label: String(s) })), p.fontSize, v => ctx.backend.setPreferences({ fontSize: v }), 'font-size')),
      h('div', { class: 'preview', style: `font-size:${p.fontSize}px`, 'aria-hidden': 'true' }, 'The quick brown fox jumps over the lazy dog.'))
    if (focused) appearance.querySelector<HTMLElement>(`[data-testid="${focused}"] [data-value="${focusedValue ?? ''}"]`)?.focus()
  }

  const renderSecurity = () => {
    clear(security)
    const on = ctx.account.mfaEnabled
    security.append(
      h('h2', { id: 'security-h' }, icon('shield'), 'Two-factor authentication'),
      h('div', { class: 'setting' },
        h('div', null,
          h('div', { class: 'label' }, on ? h('span', { class: 'pill-ok', 'data-testid': 'mfa-on' }, '✓ On') : 'Off'),
          h('div', { class: 'desc' }, on
            ? 'Signing in on a new device, and signing out your other devices, asks for a code from your authenticator app.'
            : 'Add a code from an authenticator app (1Password, Google Authenticator, Authy …) to your password.')),
        on
          ? h('button', { class: 'btn', type: 'button', onclick: () => disableMfa() }, 'Turn off')
          : h('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'mfa-enroll', onclick: () => void enrollMfa() }, icon('shield', 16), 'Set up')))
  }

  const enrollMfa = async () => {
    let enroll
    try { enroll = await ctx.backend.mfaEnroll() } catch (err) { toast(friendlyError(err), 'error'); return }
    const qr = await QRCode.toDataURL(enroll.otpauthUri, { margin: 1, width: 360, errorCorrectionLevel: 'M' })
    const error = h('div', { class: 'form-error', role: 'alert' })
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: 'mfa-confirm-form' }, 'Turn on')
    const body = h('div', null,
      h('p', null, 'Scan this code with your authenticator app, then enter the 6-digit code it shows.'),
      h('div', { class: 'qr' },
        h('img', { src: qr, alt: 'QR code for your authenticator app', 'data-testid': 'mfa-qr', 'data-uri': enroll.otpauthUri }),
        h('div', null,
          h('p', { class: 'small muted' }, 'Can’t scan? Enter this key by hand:'),
          h('code', { class: 'secret', 'data-testid': 'mfa-secret' }, enroll.secret.replace(/(.{4})/g, '$1 ').trim()))),
      h('form', { id: 'mfa-confirm-form' },
        error,
        h('div', { class: 'field' },
          h('label', { for: 'mfa-confirm-code' }, 'Code from the app'),
          h('input', { class: 'input input-code', id: 'mfa-confirm-code', name: 'code', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 8, required: true }))))
    const d = openDialog({ title: 'Set up two-factor authentication', className: 'mfa-dialog', body, actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit] })
    const form = body.querySelector('form')!
    onCodeSubmit(form, submit, error, async code => {
      const codes = await ctx.backend.mfaConfirm(code)
      ctx.account.mfaEnabled = true
      d.close()
      renderSecurity()
      showRecoveryCodes(codes)
    }, code => (/^\d{6}$/.test(code) ? null : 'Enter the 6-digit code.'))
  }

  const showRecoveryCodes = (codes: string[]) => {
    const text = codes.join('\n')
    const d = openDialog({
      title: 'Save your recovery codes',
      className: 'codes-dialog',
      dismissable: false,
      body: [
        h('p', null, 'Two-factor authentication is on. If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: they are not shown again.'),
        h('div', { class: 'codes', 'data-testid': 'recovery-codes' }, codes.map(c => h('span', null, c)))
      ],
      actions: [
        h('button', { class: 'btn', type: 'button', onclick: () => { void navigator.clipboard?.writeText(text).then(() => toast('Copied.', 'success'), () => toast('Copy failed: select the codes instead.', 'error')) } }, icon('copy', 16), 'Copy'),
        h('button', { class: 'btn btn-primary', type: 'button', 'data-autofocus': true, onclick: () => d.close() }, 'I saved them')
      ]
    })
  }

  const disableMfa = () => {
    const error = h('div', { class: 'form-error', role: 'alert' })
    const submit = h('button', { class: 'btn btn-danger', type: 'submit', form: 'mfa-disable-form' }, 'Turn off')
    const form = h('form', { id: 'mfa-disable-form' },
      h('p', null, 'Enter a code from your authenticator app (or a recovery code) to turn two-factor authentication off.'),
      error,
      h('div', { class: 'field' },
        h('label', { for: 'mfa-disable-code' }, 'Code'),
        h('input', { class: 'input input-code', id: 'mfa-disable-code', name: 'code', autocomplete: 'one-time-code', maxLength: 32, required: true })))
    const d = openDialog({ title: 'Turn off two-factor authentication?', body: form, actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit] })
    onCodeSubmit(form, submit, error, async code => {
      await ctx.backend.mfaDisable(code)
      ctx.account.mfaEnabled = false
      d.close()
      renderSecurity()
      toast('Two-factor authentication is off.', 'success')
    })
  }

  let keys: PasskeyInfo[] = []
  const renderPasskeys = (problem = '') => {
    clear(passkeys)
    const supported = ctx.backend.passkeysSupported()
    const add = h('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'passkey-add', disabled: !supported }, icon('fingerprint', 16), 'Add a passkey')
    add.addEventListener('click', () => void busy(add, async () => {
      try {
        let added: PasskeyInfo | undefined
        if (await withStepUp(ctx, 'Adding a passkey to your account needs a fresh second factor.', async () => { added = await ctx.backend.registerPasskey() })) {
          toast(`Passkey “${added?.name ?? ''}” added. Use it to sign in on this device, or wherever your passkeys sync.`, 'success')
          await loadPasskeys()
        }
      } catch (err) { renderPasskeys(friendlyError(err)) }
    }))
    passkeys.append(
      h('h2', { id: 'passkeys-h' }, icon('fingerprint'), 'Passkeys'),
      h('p', { class: 'card-sub' }, supported
        ? 'Sign in with your fingerprint, face or screen lock instead of a password: no email to type, nothing to phish. A passkey also confirms sensitive actions.'
        : 'This browser cannot use passkeys here (they need a secure connection).'),
      h('div', { class: 'form-error', role: 'alert' }, problem),
      h('div', { class: 'passkey-list', 'data-testid': 'passkey-list' },
        keys.length === 0 ? h('p', { class: 'muted small' }, 'No passkeys yet.') : keys.map(k => h('div', { class: 'setting', 'data-testid': 'passkey' },
          h('div', null,
            h('div', { class: 'label' }, k.name),
            h('div', { class: 'desc' }, [
              `Added ${relativeTime(k.createdAt)}`,
              k.lastUsedAt ? `last used ${relativeTime(k.lastUsedAt)}` : 'not used yet',
              k.deviceType === 'multiDevice' ? 'synced across your devices' : 'on one device only'
            ].join(' · '))),
          h('div', { class: 'row-actions' },
            h('button', { class: 'btn btn-sm', type: 'button', 'aria-label': `Rename ${k.name}`, onclick: () => renamePasskey(k) }, icon('edit', 14), 'Rename'),
            h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'passkey-remove', 'aria-label': `Remove ${k.name}`, onclick: () => void removePasskey(k) }, icon('trash', 14), 'Remove'))))),
      h('div', { class: 'setting' }, h('span', null), add))
  }

  const loadPasskeys = async () => {
    try { keys = await ctx.backend.listPasskeys() } catch (err) { if (!destroyed) renderPasskeys(friendlyError(err)); return }
    if (!destroyed) renderPasskeys()
  }

  const renamePasskey = (k: PasskeyInfo) => {
    const error = h('div', { class: 'form-error', role: 'alert' })
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: 'passkey-rename-form' }, 'Rename')
    const form = h('form', { id: 'passkey-rename-form' },
      error,
      h('div', { class: 'field' },
        h('label', { for: 'passkey-name' }, 'Name'),
        h('input', { class: 'input', id: 'passkey-name', name: 'name', maxLength: 64, value: k.name, autocomplete: 'off', required: true })))
    const d = openDialog({ title: 'Rename passkey', body: form, actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit] })
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const name = val(form, 'name')
      if (!name) { error.textContent = 'Enter a name.'; return }
      void busy(submit, async () => {
        try { await ctx.backend.renamePasskey(k.id, name); d.close(); await loadPasskeys() } catch (err) { error.textContent = friendlyError(err) }
      })
    })
  }

  const removePasskey = async (k: PasskeyInfo) => {
    if (!(await confirmDialog(`Remove “${k.name}”?`, 'It can no longer sign in to your account or confirm actions. Delete it from your password manager or device too.', 'Remove', true))) return
    try {
      if (await withStepUp(ctx, 'Removing a passkey needs a fresh second factor.', () => ctx.backend.removePasskey(k.id))) toast('Passkey removed.', 'success')
    } catch (err) { toast(friendlyError(err), 'error') }
    await loadPasskeys()
  }

  const renderPassword = () => {
    const error = h('div', { class: 'form-error', role: 'alert' })
    const submit = h('button', { class: 'btn', type: 'submit' }, icon('key', 16), 'Change password')
    const form = h('form', { 'aria-label': 'Change password' },
      error,
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.account.email, hidden: true, readOnly: true }),
      h('div', { class: 'field' },
        h('label', { for: 'pw-current' }, 'Current password'),
        h('input', { class: 'input', id: 'pw-current', name: 'current', type: 'password', autocomplete: 'current-password', required: true })),
      h('div', { class: 'field' },
        h('label', { for: 'pw-next' }, 'New password'),
        h('input', { class: 'input', id: 'pw-next', name: 'next', type: 'password', autocomplete: 'new-password', minLength: 10, required: true }),
        h('span', { class: 'hint' }, 'At least 10 characters. Your other devices are signed out.')),
      submit)
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const current = (form.elements.namedItem('current') as HTMLInputElement).value
      const next = (form.elements.namedItem('next') as HTMLInputElement).value
      if (!current || !next) { error.textContent = 'Fill in both passwords.'; return }
      error.textContent = ''
      void busy(submit, async () => {
        try {
          if (await withStepUp(ctx, 'Changing your password needs a fresh code from your authenticator app.', () => ctx.backend.changePassword(current, next))) {
            form.reset()
            toast('Password changed. Your other devices were signed out.', 'success')
          }
        } catch (err) { error.textContent = friendlyError(err) }
      })
    })
    clear(password)
    password.append(h('h2', { id: 'password-h' }, icon('key'), 'Password'), form)
  }

  const renderAccount = () => {
    clear(account)
    account.append(
      h('h2', { id: 'account-h' }, icon('users'), 'Account'),
      h('div', { class: 'setting' },
        h('div', null, h('div', { class: 'label' }, ctx.account.email), h('div', { class: 'desc' }, `This device: ${ctx.account.deviceName}`)),
        h('button', { class: 'btn', type: 'button', onclick: () => void ctx.signOut() }, icon('logout', 16), 'Sign out of this device')))
  }

  renderAppearance()
  renderSecurity()
  renderPassword()
  renderAccount()
  renderPasskeys()
  void loadPasskeys()
  const unsub = ctx.backend.onSessionState(renderAppearance)
  return { el, destroy () { destroyed = true; unsub() } }
}
