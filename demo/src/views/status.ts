/**
 * The sync status badge (offline / connecting / syncing / synced) and the "unsynced changes" flag.
 * Passing states (connecting, syncing) show only once they last SETTLE_MS, and once offline, reconnect
 * attempts show only when they get through (syncing): retries do not make the badge flicker.
 */
import { h, icon } from '../dom.js'
import type { OpenDoc, SyncStatus } from '../backend.js'

const LABEL: Record<SyncStatus, string> = {
  offline: 'Offline',
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  synced: 'Synced'
}

const TITLE: Record<SyncStatus, string> = {
  offline: 'No connection. Your edits are saved on this device and sync when you are back online.',
  connecting: 'Connecting to the server…',
  syncing: 'Exchanging changes with the server…',
  synced: 'Everything on this device is on the server.'
}

const SETTLE_MS = 700

export interface StatusBadge { el: HTMLElement, bind (doc: OpenDoc | null): void, destroy (): void }

export const statusBadge = (): StatusBadge => {
  const badge = h('span', { class: 'status', 'data-testid': 'sync-status', role: 'status', 'aria-live': 'polite' })
  const unsynced = h('span', { class: 'unsynced', 'data-testid': 'unsynced', hidden: true, title: 'Some edits made on this device have not reached the server yet. They are kept on this device.' },
    icon('cloudOff', 14), h('span', { class: 'label-long' }, 'Unsynced changes'), h('span', { class: 'sr-only' }, ' (kept on this device)'))
  const el = h('span', { class: 'status-group' }, badge, unsynced)
  let off: (() => void) | null = null
  let current: OpenDoc | null = null
  let settle: ReturnType<typeof setTimeout> | undefined

  const show = (s: SyncStatus) => {
    if (badge.dataset.status === s) return
    badge.dataset.status = s
    badge.textContent = LABEL[s]
    badge.title = TITLE[s]
  }
  const render = () => {
    const s: SyncStatus = current ? current.status() : (navigator.onLine ? 'connecting' : 'offline')
    const shown = badge.dataset.status
    clearTimeout(settle)
    // Offline, a reconnect attempt is no news until it gets through (the connection banner counts down).
    const holdOffline = s === 'connecting' && shown === 'offline'
    const passing = (s === 'connecting' || s === 'syncing') && shown !== undefined
    if (passing && !holdOffline) settle = setTimeout(() => show(s), SETTLE_MS)
    else if (!holdOffline) show(s)
    const dirty = current?.hasUnsyncedChanges() ?? false
    unsynced.hidden = !dirty
  }
  const onNet = () => render()
  window.addEventListener('online', onNet)
  window.addEventListener('offline', onNet)

  return {
    el,
    bind (doc) {
      off?.()
      current = doc
      off = doc ? doc.onChange(render) : null
      render()
    },
    destroy () {
      off?.()
      clearTimeout(settle)
      window.removeEventListener('online', onNet)
      window.removeEventListener('offline', onNet)
    }
  }
}
