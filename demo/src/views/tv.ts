/**
 * Tandem TV (`/tv`): a big-screen page that needs no keyboard. Signed out, it shows a pairing code
 * and a QR code of its link, and waits while a signed-in phone or computer approves it (the SDK
 * polls; an expired code is replaced by a new one). Signed in, it offers to continue watching at the
 * playback position synced from whichever device watched last, and keeps that position in sync.
 */
import QRCode from 'qrcode'
import { h, icon } from '../dom.js'
import { friendlyError, type Account, type Backend, type DeviceCodeResponse } from '../backend.js'
import { defaultDevice } from '../device.js'

/** The one title of the demo's catalogue. */
export const MEDIA = { id: 'night-train-to-lisbon', title: 'Night Train to Lisbon', year: 2013, durationS: 111 * 60 }
/** While playing, the position is written to the session state this often. */
const SAVE_EVERY_S = 5

export const formatTime = (s: number): string => {
  const t = Math.max(0, Math.floor(s))
  const hh = Math.floor(t / 3600)
  const mm = Math.floor((t % 3600) / 60)
  const ss = String(t % 60).padStart(2, '0')
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`
}

export interface TvOptions {
  backend: Backend
  /** Signed in already (this device was paired before, or a laptop opens the player). */
  account: Account | null
}

export const tvPage = (opts: TvOptions) => {
  const { backend } = opts
  const el = h('div', { class: 'tv', 'data-testid': 'tv' })
  const cleanup: Array<() => void> = []
  const stop = () => { for (const fn of cleanup.splice(0)) fn() }
  document.title = 'Tandem TV'

  // ------------------------------------------------------------------------------- pairing

  const showPairing = (problem = '') => {
    stop()
    const ac = new AbortController()
    cleanup.push(() => ac.abort(new Error('left the page')))
    const device = { name: `TV (${defaultDevice().name})`.slice(0, 64), platform: 'tv' }
    const codeBox = h('div', { class: 'tv-pair-code' }, h('p', { class: 'tv-wait' }, 'Getting a code…'))
    const error = h('p', { class: 'tv-error', role: 'alert' }, problem)
    el.replaceChildren(h('main', { class: 'tv-pair' },
      h('div', { class: 'tv-brand' }, h('span', { class: 'brand-logo' }), 'Tandem TV'),
      h('h1', null, 'Sign in on this TV'),
      error,
      codeBox))
    let countdown: ReturnType<typeof setInterval> | undefined
    cleanup.push(() => clearInterval(countdown))

    const onCode = (code: DeviceCodeResponse) => {
      const link = new URL(code.verification_uri)
      const expires = Date.now() + code.expires_in * 1000
      const left = h('span', { 'data-testid': 'tv-expires' })
      const tick = () => { left.textContent = formatTime((expires - Date.now()) / 1000) }
      tick()
      clearInterval(countdown)
      countdown = setInterval(tick, 1000)
      const qr = h('img', { class: 'tv-qr', alt: 'QR code: scan it with your phone to approve this TV', 'data-testid': 'tv-qr', 'data-uri': code.verification_uri_complete })
      void QRCode.toDataURL(code.verification_uri_complete, { margin: 1, width: 480, errorCorrectionLevel: 'M' }).then(src => { qr.src = src })
      codeBox.replaceChildren(
        h('ol', { class: 'tv-steps' },
          h('li', null, 'On your phone or computer, go to ', h('strong', { class: 'tv-url', 'data-testid': 'tv-url' }, `${link.host}${link.pathname}`)),
          h('li', null, 'Enter this code:', h('div', { class: 'tv-code', 'data-testid': 'tv-code', 'aria-label': `Code ${code.user_code.split('').join(' ')}` }, code.user_code)),
          h('li', null, 'Check the code matches, and approve.')),
        h('figure', { class: 'tv-qr-box' }, qr, h('figcaption', null, 'Or scan with your phone’s camera')),
        h('p', { class: 'tv-note' }, 'The code changes in ', left, '. Tandem never asks for it by phone, email or chat: only type it on your own device.'))
    }

    backend.pairDevice(device, onCode, ac.signal).then(
      account => { if (!ac.signal.aborted) void showPlayer(account) },
      err => {
        if (ac.signal.aborted) return
        // Denied, or the server is unreachable: start over with a new code after a short pause.
        const msg = friendlyError(err)
        const retry = setTimeout(() => showPairing(msg), 3000)
        cleanup.push(() => clearTimeout(retry))
        error.textContent = msg
      })
  }

  // -------------------------------------------------------------------------------- player

  const showPlayer = async (account: Account) => {
    stop()
    el.replaceChildren(h('main', { class: 'tv-player' }, h('p', { class: 'tv-wait' }, 'Loading your session…')))
    const stopped = { now: false }
    cleanup.push(() => { stopped.now = true })
    const unsubEnded = backend.onSessionEnded(() => { showPairing('This TV was signed out.') })
    cleanup.push(unsubEnded)
    try { await backend.sessionDoc() } catch { /* offline: the cached state shows */ }
    if (stopped.now) return

    const synced = backend.playback(MEDIA.id)
    let position = synced?.seconds ?? 0
    /** The device the position came from, when another one ("… on Laptop"). */
    let from = synced && !synced.mine ? synced.deviceName ?? 'another device' : ''
    let playing = false
    let timer: ReturnType<typeof setInterval> | undefined
    let sinceSave = 0
    cleanup.push(() => { clearInterval(timer); if (playing) backend.setPlayback(MEDIA.id, position) })

    const where = h('span', { 'data-testid': 'tv-position' })
    const heading = h('div', { class: 'tv-continue', 'data-testid': 'tv-continue' })
    const seek = h('input', { class: 'tv-seek', type: 'range', min: '0', max: String(MEDIA.durationS), step: '1', 'aria-label': 'Position', 'data-testid': 'tv-seek' })
    const play = h('button', { class: 'btn btn-primary tv-play', type: 'button', 'data-testid': 'tv-play', 'data-autofocus': true })
    const render = () => {
      seek.value = String(Math.round(position))
      where.textContent = `${formatTime(position)} of ${formatTime(MEDIA.durationS)}`
      heading.textContent = position > 0 ? `Continue watching at ${formatTime(position)}${from ? ` — you were watching on ${from}` : ''}` : 'Start watching'
      play.replaceChildren(icon(playing ? 'pause' : 'play', 28), playing ? 'Pause' : position > 0 ? 'Continue' : 'Play')
    }
    const save = () => { sinceSave = 0; from = ''; backend.setPlayback(MEDIA.id, position) }
    play.addEventListener('click', () => {
      playing = !playing
      clearInterval(timer)
      if (playing) {
        timer = setInterval(() => {
          position = Math.min(MEDIA.durationS, position + 1)
          if (++sinceSave >= SAVE_EVERY_S) save()
          render()
        }, 1000)
      } else save()
      render()
    })
    seek.addEventListener('change', () => { position = Number(seek.value); save(); render() })
    // Another device moved on: follow it unless this one is playing.
    const unsubState = backend.onSessionState(() => {
      const p = backend.playback(MEDIA.id)
      if (!playing && p && !p.mine && p.seconds !== position) { position = p.seconds; from = p.deviceName ?? 'another device'; render() }
    })
    cleanup.push(unsubState)

    const signOut = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-testid': 'tv-sign-out' }, icon('logout', 16), 'Sign out')
    signOut.addEventListener('click', () => { stop(); void backend.logout().catch(() => {}).finally(() => showPairing()) })
    el.replaceChildren(h('main', { class: 'tv-player' },
      h('header', { class: 'tv-head' },
        h('div', { class: 'tv-brand' }, h('span', { class: 'brand-logo' }), 'Tandem TV'),
        h('span', { class: 'spacer' }),
        h('span', { class: 'tv-who', 'data-testid': 'tv-account' }, account.email),
        signOut),
      h('section', { class: 'tv-hero' },
        h('div', { class: 'tv-poster', 'aria-hidden': 'true' }, icon('tv', 64)),
        h('div', { class: 'tv-info' },
          heading,
          h('h1', null, MEDIA.title),
          h('p', { class: 'tv-meta' }, `${MEDIA.year} · ${formatTime(MEDIA.durationS)} · your position follows you to every device`),
          seek,
          h('p', { class: 'tv-time' }, where),
          play))))
    render()
    play.focus()
  }

  if (opts.account) void showPlayer(opts.account)
  else showPairing()
  return { el, destroy: stop }
}
