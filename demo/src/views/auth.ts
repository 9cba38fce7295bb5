/** Sign in, create account, and the MFA challenge. Also used inside the "sign in again" prompt. */
import { h, icon, val, busy } from '../dom.js'
import { friendlyError, errorCode, type Account, type Backend } from '../backend.js'
import { onCodeSubmit } from './code-form.js'
import { defaultDevice } from '../device.js'

type Mode = 'signin' | 'signup'

export interface AuthFormOptions {
  backend: Backend
  mode?: Mode
  /** Fixed email (re-authentication after a revocation): shown, not editable, no sign-up tab. */
  email?: string
  onSignedIn: (account: Account) => void
  compact?: boolean
  /** The device name to sign in with (re-authentication keeps the old one); hides the field. */
  deviceName?: string
}

/** The sign-in / sign-up form, then the MFA challenge when the account has MFA on. */
export const authForm = (opts: AuthFormOptions): HTMLElement => {
  const host = h('div', { class: 'auth-form' })
  let mode: Mode = opts.mode ?? 'signin'
  const device = defaultDevice()
  if (opts.deviceName) device.name = opts.deviceName
  let rememberedEmail = opts.email ?? ''

  const renderCredentials = () => {
    host.replaceChildren()
    const error = h('div', { class: 'form-error', role: 'alert' })
    const isUp = mode === 'signup'
    const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, isUp ? 'Create account' : 'Sign in')
    const form = h('form', { novalidate: true, 'aria-label': isUp ? 'Create account' : 'Sign in' },
      error,
      h('div', { class: 'field' },
        h('label', { for: 'auth-email' }, 'Email'),
        h('input', { class: 'input', id: 'auth-email', name: 'email', type: 'email', autocomplete: 'username', required: true, value: rememberedEmail, readOnly: Boolean(opts.email) })),
      h('div', { class: 'field' },
        h('label', { for: 'auth-password' }, 'Password'),
        h('input', { class: 'input', id: 'auth-password', name: 'password', type: 'password', autocomplete: isUp ? 'new-password' : 'current-password', required: true, minLength: isUp ? 10 : undefined }),
        isUp ? h('span', { class: 'hint' }, 'At least 10 characters.') : null),
      opts.deviceName ? null : h('div', { class: 'field' },
        h('label', { for: 'auth-device' }, 'This device’s name'),
        h('input', { class: 'input', id: 'auth-device', name: 'device', maxLength: 64, value: device.name, autocomplete: 'off' }),
        h('span', { class: 'hint' }, 'Shown on your devices page, so you can tell your sessions apart.')),
      submit,
      // Passkeys sign in to whichever account they belong to: not offered when the account is fixed.
      !opts.email && opts.backend.passkeysSupported()
        ? h('div', { class: 'auth-alt' },
          h('span', { class: 'or' }, 'or'),
          h('button', { class: 'btn btn-block', type: 'button', 'data-testid': 'passkey-login', onclick: (e: Event) => passkeyLogin(e.currentTarget as HTMLButtonElement, error, form) },
            icon('fingerprint', 18), 'Sign in with a passkey'))
        : null)

    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const email = val(form, 'email')
      const password = (form.elements.namedItem('password') as HTMLInputElement).value
      const name = val(form, 'device') || device.name
      rememberedEmail = email
      if (!email || !email.includes('@')) { error.textContent = 'Enter your email address.'; return }
      if (!password) { error.textContent = 'Enter your password.'; return }
      error.textContent = ''
      void busy(submit, async () => {
        try {
          if (isUp) await opts.backend.register(email, password)
          const res = await opts.backend.login(email, password, { name, platform: device.platform })
          if (res === 'mfa') renderMfa()
          else opts.onSignedIn(res)
        } catch (err) {
          error.textContent = friendlyError(err)
          if (errorCode(err) === 'email_taken') { mode = 'signin'; renderCredentials(); host.querySelector('.form-error')!.textContent = friendlyError(err) }
        }
      })
    })

    if (!opts.email) {
      const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Sign in or create an account' },
        h('button', { type: 'button', role: 'tab', 'aria-selected': String(!isUp), onclick: () => { mode = 'signin'; rememberedEmail = val(form, 'email'); renderCredentials() } }, 'Sign in'),
        h('button', { type: 'button', role: 'tab', 'aria-selected': String(isUp), onclick: () => { mode = 'signup'; rememberedEmail = val(form, 'email'); renderCredentials() } }, 'Create account'))
      host.append(tabs)
    }
    host.append(form)
    const focus = form.querySelector<HTMLInputElement>(opts.email ? '#auth-password' : (rememberedEmail ? '#auth-password' : '#auth-email'))
    queueMicrotask(() => focus?.focus())
  }

  const passkeyLogin = (button: HTMLButtonElement, error: HTMLElement, form: HTMLFormElement) => {
    error.textContent = ''
    void busy(button, async () => {
      try {
        opts.onSignedIn(await opts.backend.loginWithPasskey({ name: val(form, 'device') || device.name, platform: device.platform }))
      } catch (err) { error.textContent = friendlyError(err) }
    })
  }

  const renderMfa = () => {
    host.replaceChildren()
    const error = h('div', { class: 'form-error', role: 'alert' })
    const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, 'Verify')
    const form = h('form', { 'aria-label': 'Two-factor authentication' },
      h('div', { class: 'signed-out-icon' }, icon('shield', 24)),
      h('h2', null, 'Two-factor authentication'),
      h('p', { class: 'muted' }, 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'),
      error,
      h('div', { class: 'field' },
        h('label', { for: 'mfa-code' }, 'Code'),
        h('input', { class: 'input input-code', id: 'mfa-code', name: 'code', inputMode: 'text', autocomplete: 'one-time-code', required: true, maxLength: 32 })),
      submit,
      h('button', { class: 'btn btn-ghost btn-block', type: 'button', style: 'margin-top:8px', onclick: () => renderCredentials() }, 'Back'))
    onCodeSubmit(form, submit, error, async code => opts.onSignedIn(await opts.backend.verifyMfa(code)))
    host.append(form)
    queueMicrotask(() => form.querySelector<HTMLInputElement>('#mfa-code')?.focus())
  }

  renderCredentials()
  return host
}

/** The full-page sign-in screen; `notice` says why this device is signed out, when it was not the person's choice. */
export const authPage = (opts: AuthFormOptions & { notice?: string }): HTMLElement =>
  h('div', { class: 'auth-page' },
    h('section', { class: 'auth-hero', 'aria-hidden': 'true' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-logo' }), 'Tandem'),
      h('div', null,
        h('h1', null, 'Your drafts, on every device.'),
        h('p', null, 'Write on your laptop, pick up on your phone, keep going on a plane. Edits merge by themselves, and your collaborators see your cursor live.'),
        h('ul', null,
          h('li', null, icon('cloudOff', 20), 'Works offline — syncs when you are back'),
          h('li', null, icon('users', 20), 'Share drafts as editor or viewer'),
          h('li', null, icon('devices', 20), 'See and sign out every device'),
          h('li', null, icon('shield', 20), 'Two-factor authentication'))),
      h('p', { class: 'small' }, 'A demo of session-sync: Yjs over y-websocket, LevelDB, device-bound sessions.')),
    h('main', { class: 'auth-main', id: 'main' },
      h('div', { class: 'auth-card' },
        h('div', { class: 'brand auth-mobile-brand' }, h('span', { class: 'brand-logo' }), 'Tandem'),
        h('h1', null, 'Welcome'),
        h('p', { class: 'sub' }, 'Sign in or create an account to start writing.'),
        opts.notice ? h('p', { class: 'card banner-inline notice', role: 'status', 'data-testid': 'signed-out-reason' }, icon('shield', 16), opts.notice) : null,
        authForm(opts),
        h('p', { class: 'auth-foot' }, 'Each device gets its own session. You can sign any of them out from another.'),
        h('p', { class: 'auth-foot' }, 'On a TV? ', h('a', { href: '/tv', 'data-testid': 'tv-link' }, 'Sign in with a code'), ' from your phone instead.'))))
