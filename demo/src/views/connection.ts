/**
 * "Can't reach the server, retrying in N s" with a live countdown and "Retry now", while the
 * session document's provider waits out its reconnect backoff. Appears only after the server has
 * been unreachable for SHOW_AFTER_MS (a blip that heals at once shows nothing); hides on reconnect.
 * With the browser offline, the offline badge says enough.
 */
import { h, icon } from '../dom.js'
import type { OpenDoc } from '../backend.js'

const SHOW_AFTER_MS = 1000
const HALT_MS = 1500

export interface ConnectionBanner { el: HTMLElement, bind (doc: OpenDoc | null): void, destroy (): void }

export const connectionBanner = (): ConnectionBanner => {
  const countdown = h('span', { 'data-testid': 'retry-in' })
  const retry = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'retry-now' }, icon('refresh', 14), 'Retry now')
  const el = h('div', { class: 'live-banner banner-warn', role: 'status', 'data-testid': 'connection-banner', hidden: true },
    icon('cloudOff', 16), h('span', { class: 'grow' }, 'Can’t reach the server. Retrying in ', countdown, '.'), retry)
  let doc: OpenDoc | null = null
  let off: (() => void) | null = null
  let tick: ReturnType<typeof setInterval> | undefined
  let showTimer: ReturnType<typeof setTimeout> | undefined
  let haltTimer: ReturnType<typeof setTimeout> | undefined
  let downSince: number | null = null

  const paint = () => {
    const at = doc?.nextRetryAt() ?? null
    if (at === null) { countdown.textContent = 'a moment'; return }
    const s = Math.max(0, Math.ceil((at - Date.now()) / 1000))
    countdown.textContent = s > 0 ? `${s} s` : 'a moment'
    countdown.dataset.seconds = String(s)
  }
  const hide = () => {
    downSince = null
    clearTimeout(showTimer)
    showTimer = undefined
    clearTimeout(haltTimer)
    haltTimer = undefined
    clearInterval(tick)
    tick = undefined
    el.hidden = true
  }
  const update = () => {
    const status = doc?.status()
    if (doc === null || !navigator.onLine || status === 'synced') { hide(); return }
    const waiting = doc.nextRetryAt() !== null || status === 'connecting' || status === 'syncing'
    if (!waiting) {
      // Offline with no retry scheduled: for an instant between a failed attempt and the next
      // wait, or for good when the session ended (not a connection problem). Only the latter hides.
      if (!haltTimer) haltTimer = setTimeout(() => { haltTimer = undefined; if (doc && doc.status() === 'offline' && doc.nextRetryAt() === null) hide() }, HALT_MS)
      return
    }
    clearTimeout(haltTimer)
    haltTimer = undefined
    if (downSince === null) downSince = Date.now()
    if (el.hidden && !showTimer) {
      showTimer = setTimeout(() => { showTimer = undefined; el.hidden = false; paint(); update() }, Math.max(0, SHOW_AFTER_MS - (Date.now() - downSince)))
    }
    if (!el.hidden && !tick) tick = setInterval(paint, 250)
    paint()
  }
  retry.addEventListener('click', () => { doc?.retryNow(); countdown.textContent = 'a moment' })
  const onNet = () => update()
  window.addEventListener('online', onNet)
  window.addEventListener('offline', onNet)

  return {
    el,
    bind (d) { off?.(); doc = d; off = d ? d.onChange(update) : null; update() },
    destroy () {
      off?.()
      clearInterval(tick)
      clearTimeout(showTimer)
      clearTimeout(haltTimer)
      window.removeEventListener('online', onNet)
      window.removeEventListener('offline', onNet)
    }
  }
}
