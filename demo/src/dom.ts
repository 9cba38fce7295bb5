/** A tiny DOM toolkit: `h()` builds elements, a few helpers for dialogs, toasts and relative times. */

type Child = Node | string | number | null | undefined | false | Child[]
type Attrs = Record<string, unknown> & { class?: string, dataset?: Record<string, string>, style?: string }

export const h = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag)
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = String(v)
      else if (k === 'dataset') Object.assign(el.dataset, v)
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as EventListener)
      else if (k in el && typeof v !== 'string') (el as unknown as Record<string, unknown>)[k] = v
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

export const append = (el: Node, children: Child[]) => {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

export const clear = (el: Element) => { while (el.firstChild) el.removeChild(el.firstChild) }

export const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel)

/** Inline SVG icons (stroke icons, 24×24 viewBox). */
const ICONS: Record<string, string> = {
  plus: 'M12 5v14M5 12h14',
  share: 'M16 6l-4-4-4 4M12 2v14M20 14v6a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-6',
  trash: 'M3 6h18M8 6V4h8v2M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6',
  devices: 'M4 5h12v9H4zM2 17h16M18 9h4v10h-4z',
  settings: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 1.65 1.65 0 0 0-1 1.51V21a2 2 0 1 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.68 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 1 1 0-4h.09A1.65 1.65 0 0 0 4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.68a1.65 1.65 0 0 0 1-1.51V3a2 2 0 1 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 1 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z',
  doc: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M8 13h8M8 17h6',
  users: 'M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM23 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75',
  back: 'M15 18l-6-6 6-6',
  up: 'M18 15l-6-6-6 6',
  down: 'M6 9l6 6 6-6',
  check2: 'M9 11l3 3L22 4M21 12v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h11',
  menu: 'M3 6h18M3 12h18M3 18h18',
  logout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9',
  shield: 'M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z',
  key: 'M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.78 7.78 5.5 5.5 0 0 1 7.78-7.78zM15.5 7.5l3 3L22 7l-3-3',
  cloudOff: 'M22.61 16.95A5 5 0 0 0 18 10h-1.26a8 8 0 0 0-7.05-6M5 5a8 8 0 0 0 4 15h9a5 5 0 0 0 1.7-.3M1 1l22 22',
  check: 'M20 6L9 17l-5-5',
  close: 'M18 6L6 18M6 6l12 12',
  edit: 'M12 20h9M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z',
  eye: 'M1 12s4-8 11-8 11 8 11 8-4 8-11 8S1 12 1 12zM12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z',
  phone: 'M7 2h10a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zM11 18h2',
  laptop: 'M4 5h16v10H4zM2 19h20',
  globe: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM2 12h20M12 2a15 15 0 0 1 0 20M12 2a15 15 0 0 0 0 20',
  arrowRight: 'M5 12h14M12 5l7 7-7 7',
  refresh: 'M23 4v6h-6M1 20v-6h6M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15',
  copy: 'M20 9h-9a2 2 0 0 0-2 2v9a2 2 0 0 0 2 2h9a2 2 0 0 0 2-2v-9a2 2 0 0 0-2-2zM5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1',
  sun: 'M12 17a5 5 0 1 0 0-10 5 5 0 0 0 0 10zM12 1v2M12 21v2M4.22 4.22l1.42 1.42M18.36 18.36l1.42 1.42M1 12h2M21 12h2M4.22 19.78l1.42-1.42M18.36 5.64l1.42-1.42',
  moon: 'M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z',
  tv: 'M3 7h18v12H3zM8 3l4 4 4-4',
  play: 'M6 4l14 8-14 8z',
  pause: 'M7 4h3v16H7zM14 4h3v16h-3z',
  fingerprint: 'M12 11v3a8 8 0 0 1-2 5M8 11a4 4 0 0 1 8 0v2a12 12 0 0 1-1 5M5 9a7 7 0 0 1 14 0v3M4 15v-3M20 15a16 16 0 0 1-1 4'
}

export const icon = (name: keyof typeof ICONS | string, size = 18): SVGSVGElement => {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('width', String(size))
  svg.setAttribute('height', String(size))
  svg.setAttribute('fill', 'none')
  svg.setAttribute('stroke', 'currentColor')
  svg.setAttribute('stroke-width', '2')
  svg.setAttribute('stroke-linecap', 'round')
  svg.setAttribute('stroke-linejoin', 'round')
  svg.setAttribute('aria-hidden', 'true')
  svg.classList.add('icon')
  const path = document.createElementNS(ns, 'path')
  path.setAttribute('d', ICONS[name] ?? '')
  svg.appendChild(path)
  return svg
}

/** "just now", "3 min ago", "yesterday", then a date. */
export const relativeTime = (ms: number, now = Date.now()): string => {
  const s = Math.round((now - ms) / 1000)
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const hrs = Math.round(m / 60)
  if (hrs < 24) return `${hrs} h ago`
  const d = Math.round(hrs / 24)
  if (d === 1) return 'yesterday'
  if (d < 7) return `${d} days ago`
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

// ---------------------------------------------------------------------------------------- toasts

export const toast = (message: string, kind: 'info' | 'success' | 'error' = 'info', ms = 4000) => {
  const host = document.getElementById('toasts')
  if (!host) return
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : undefined }, message)
  host.appendChild(t)
  setTimeout(() => { t.classList.add('leaving'); setTimeout(() => t.remove(), 300) }, ms)
}

// --------------------------------------------------------------------------------------- dialogs

export interface DialogHandle { el: HTMLDialogElement, close: () => void }

/**
 * A modal `<dialog>`: focus moves into it, Tab stays inside, Escape closes it unless `dismissable`
 * is false (used for "you were signed out", which needs an answer).
 */
export const openDialog = (opts: { title: string, body: Child, actions?: Child, dismissable?: boolean, className?: string, onClose?: () => void, labelId?: string }): DialogHandle => {
  const titleId = opts.labelId ?? `dlg-${Math.random().toString(36).slice(2)}`
  const el = h('dialog', { class: `dialog ${opts.className ?? ''}`, 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, opts.title),
      opts.dismissable === false ? null : h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close', onclick: () => close() }, icon('close'))),
    h('div', { class: 'dialog-body' }, opts.body),
    opts.actions ? h('div', { class: 'dialog-actions' }, opts.actions) : null)
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    el.close()
    el.remove()
    opts.onClose?.()
  }
  el.addEventListener('cancel', (e) => { e.preventDefault(); if (opts.dismissable !== false) close() })
  el.addEventListener('click', (e) => { if (e.target === el && opts.dismissable !== false) close() })
  document.body.appendChild(el)
  el.showModal()
  const first = el.querySelector<HTMLElement>('input, select, textarea, [data-autofocus]') ?? el.querySelector<HTMLElement>('.dialog-actions .btn-primary')
  first?.focus()
  return { el, close }
}

export const confirmDialog = (title: string, message: string, confirmLabel: string, danger = false): Promise<boolean> =>
  new Promise(resolve => {
    let answered = false
    const d = openDialog({
      title,
      body: h('p', null, message),
      actions: [
        h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'),
        h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'button', 'data-autofocus': true, onclick: () => { answered = true; d.close() } }, confirmLabel)
      ],
      onClose: () => resolve(answered)
    })
  })

/** A one-line text field's value, trimmed. */
export const val = (form: HTMLFormElement, name: string): string =>
  String((form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '').trim()

/** Run an async form action with the submit button disabled and a message area for errors. */
export const busy = async <T>(button: HTMLButtonElement | null, fn: () => Promise<T>): Promise<T> => {
  const label = button?.textContent
  if (button) { button.disabled = true; button.dataset.busy = '1' }
  try {
    return await fn()
  } finally {
    if (button) { button.disabled = false; delete button.dataset.busy; if (label !== null && label !== undefined) button.textContent = label }
  }
}

export const initials = (name: string): string => {
  const base = name.split('@')[0] ?? name
  const parts = base.split(/[.\s_-]+/).filter(Boolean)
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase()
}

/** A stable, pleasant colour for a user id. */
export const colorFor = (id: string): { color: string, light: string } => {
  let hash = 0
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0
  const hue = hash % 360
  return { color: `hsl(${hue} 70% 45%)`, light: `hsl(${hue} 70% 45% / 0.2)` }
}
