/** One draft: title, status, presence, share, and the collaborative editor. */
import { h, icon, clear, toast, initials, colorFor } from '../dom.js'
import { navigate, type Ctx } from '../app.js'
import { friendlyError, type DocInfo, type OpenDoc } from '../backend.js'
import { createEditor, type DraftEditor } from '../editor.js'
import { onLiveTitle, setLiveTitle, lastEdit, onLastEdit, onLocalTextEdit, stampEdit, type DraftEdit } from '../model.js'
import { platformIcon } from '../device.js'
import { statusBadge } from './status.js'
import { shareFlow, deleteFlow, editedText } from './drafts.js'

/** Content edits stamp the draft ("Edited … by … on …") at most this often. */
const STAMP_EVERY_MS = 5000

interface PresenceState {
  user?: { name?: string, person?: string, color?: string, colorLight?: string, id?: string }
  device?: { name?: string, platform?: string, sessionId?: string }
}

export const draftPage = (ctx: Ctx, id: string) => {
  const el = h('div', { class: 'editor-page' })
  let open: OpenDoc | null = null
  let editor: DraftEditor | null = null
  let destroyed = false
  const cleanups: Array<() => void> = []

  const notFound = (message: string) => {
    clear(el)
    el.append(h('div', { class: 'page' }, h('div', { class: 'card empty' },
      icon('doc', 32), h('h2', null, 'This draft is not available'), h('p', null, message),
      h('a', { class: 'btn btn-primary', href: '/', 'data-link': true }, 'Back to drafts'))))
  }

  let starting = false
  const start = async (info: DocInfo) => {
    if (destroyed || starting) return
    starting = true
    let opened: OpenDoc
    try {
      opened = await ctx.backend.openDoc(info.docName)
    } catch (err) {
      starting = false
      notFound(friendlyError(err))
      return
    }
    if (destroyed) { opened.close(); return }
    open = opened
    clear(el)
    const readOnly = info.role === 'viewer'
    const owner = info.role === 'owner'
    ctx.setStatusSource(open)

    // Presence: who is here, on which device. y-codemirror.next reads `user` for remote carets.
    const me = colorFor(ctx.account.userId)
    // `name` is the label on this caret in other editors: the person, and the device when it helps.
    const person = ctx.account.email.split('@')[0] ?? ctx.account.email
    open.awareness.setLocalStateField('user', { name: `${person} · ${ctx.account.deviceName}`, person, color: me.color, colorLight: me.light, id: ctx.account.userId })
    open.awareness.setLocalStateField('device', { name: ctx.account.deviceName, platform: ctx.account.platform, sessionId: ctx.account.sessionId })

    // Removed from the draft, downgraded, or the draft was deleted: ask the server what is left.
    cleanups.push(open.onAccessChanged(() => {
      ctx.backend.getDraft(info.id).then(next => {
        if (destroyed) return
        ctx.drafts.upsert(next)
        if (next.role !== info.role) {
          toast(next.role === 'viewer' ? 'You can now only view this draft.' : 'Your access to this draft changed.')
          teardown(); starting = false; void start(next)
        }
      }, (err) => {
        if (destroyed) return
        const code = (err as { code?: string }).code
        if (code === 'not_found' || code === 'forbidden') {
          ctx.drafts.remove(info.id)
          teardown()
          notFound('It was deleted, or it is no longer shared with you.')
        }
      })
    }))

    const badge = statusBadge()
    badge.bind(open)
    cleanups.push(() => badge.destroy())

    const title = h('input', {
      class: 'title-input', 'aria-label': 'Draft title', value: info.title, maxLength: 200, readOnly: readOnly, 'data-testid': 'draft-title'
    })
    const saveTitle = async () => {
      const t = title.value.trim()
      if (!t || t === info.title) { title.value = info.title; return }
      try {
        const updated = await ctx.backend.renameDraft(info.id, t)
        info = { ...info, ...updated }
        ctx.drafts.upsert(updated)
        if (open) setLiveTitle(open.doc, t)
      } catch (err) { title.value = info.title; toast(friendlyError(err), 'error') }
    }
    cleanups.push(onLiveTitle(open.doc, (t) => {
      if (t === info.title) return
      info = { ...info, title: t }
      ctx.drafts.upsert(info)
      if (document.activeElement !== title) title.value = t
    }))
    title.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); editor?.view.focus() }
      if (e.key === 'Escape') { title.value = info.title; editor?.view.focus() }
    })
    title.addEventListener('blur', () => void saveTitle())

    // Who edited the content last: stamped on local edits (throttled), shown from any editor's stamp.
    const edited = h('span', { class: 'muted small edited', 'data-testid': 'draft-edited' })
    const showEdit = (e: DraftEdit | null) => {
      edited.textContent = e ? editedText(e, person) : ''
      if (e) ctx.backend.recordDraftEdit(info.id, e)
    }
    showEdit(lastEdit(open.doc))
    cleanups.push(onLastEdit(open.doc, showEdit))
    const refreshEdited = setInterval(() => { if (open) edited.textContent = lastEdit(open.doc) ? editedText(lastEdit(open.doc)!, person) : '' }, 30_000)
    cleanups.push(() => clearInterval(refreshEdited))
    if (!readOnly) {
      let lastStamp = 0
      let trailing: ReturnType<typeof setTimeout> | undefined
      const stamp = () => {
        trailing = undefined
        lastStamp = Date.now()
        if (open) stampEdit(open.doc, { at: lastStamp, by: person, on: ctx.account.deviceName })
      }
      cleanups.push(onLocalTextEdit(open.doc, () => {
        const wait = lastStamp + STAMP_EVERY_MS - Date.now()
        if (wait <= 0) stamp()
        else if (!trailing) trailing = setTimeout(stamp, wait)
      }))
      // Leaving the draft: the last edits are stamped now rather than never.
      cleanups.push(() => { if (trailing) { clearTimeout(trailing); stamp() } })
    }

    const presence = h('div', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'Who is here' })
    const renderPresence = () => {
      if (!open) return
      clear(presence)
      const states = [...open.awareness.getStates().entries()] as Array<[number, PresenceState]>
      const localId = open.awareness.clientID
      states.sort((a, b) => (a[0] === localId ? -1 : b[0] === localId ? 1 : a[0] - b[0]))
      for (const [clientId, s] of states) {
        if (!s.user) continue
        const self = clientId === localId
        const c = s.user.color ?? colorFor(String(clientId)).color
        const person = s.user.person ?? s.user.name ?? 'Someone'
        const sameUser = s.user.id === ctx.account.userId
        const devName = s.device?.name ?? ''
        // Another device of this user is named by its device; other people by name (and device).
        const who = self ? 'You' : sameUser && devName ? devName : person
        const dev = self ? 'this device' : sameUser ? '' : devName
        presence.append(h('span', { class: 'presence-chip', title: self ? `You, on this device (${devName})` : `${person}${devName ? ` on ${devName}` : ''}`, 'data-self': self ? '1' : undefined },
          h('span', { class: 'avatar', style: `background:${c}` }, initials(person)),
          sameUser && !self ? icon(platformIcon(s.device?.platform ?? 'web'), 12) : null,
          h('span', { class: 'who' }, who),
          dev ? h('span', { class: 'dev' }, icon(platformIcon(s.device?.platform ?? 'web'), 12), ' ', dev) : null))
      }
    }
    open.awareness.on('change', renderPresence)
    cleanups.push(() => open?.awareness.off('change', renderPresence))
    renderPresence()

    const head = h('div', { class: 'editor-head' },
      h('a', { class: 'icon-btn', href: '/', 'data-link': true, 'aria-label': 'Back to drafts', title: 'Back to drafts' }, icon('back', 20)),
      title,
      h('div', { class: 'editor-meta' }, badge.el, edited, presence),
      owner ? h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'share', onclick: () => shareFlow(ctx, info) }, icon('share', 16), h('span', { class: 'only-desktop' }, 'Share')) : null,
      owner ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Delete draft', title: 'Delete draft', onclick: async () => { if (await deleteFlow(ctx, info)) navigate('/') } }, icon('trash', 18)) : null)

    const banner = readOnly
      ? h('div', { class: 'banner', role: 'note', 'data-testid': 'viewer-banner' }, icon('eye', 16), 'You can view this draft. Only its owner and editors can change it.')
      : null

    const host = h('div', { class: 'editor-host' })
    el.append(head, ...(banner ? [banner] : []), h('div', { class: 'editor-wrap' }, host))

    editor = createEditor(host, {
      doc: open.doc,
      awareness: open.awareness,
      readOnly,
      label: `Text of ${info.title || 'the draft'}`,
      onCursor: (cursor) => ctx.backend.setLastActive({ docId: info.id, title: title.value || info.title, cursor })
    })

    // Restore the caret ("continue where you left off") once the local copy is loaded, and again
    // when the server's copy arrives if it was not there yet.
    const pending = ctx.pendingCursor?.docId === info.id ? ctx.pendingCursor.cursor : null
    ctx.pendingCursor = null
    if (pending) {
      const tryRestore = () => editor?.restoreCursor(pending) ?? false
      if (!tryRestore()) {
        const off = open.onChange(() => { if (open?.status() === 'synced' && tryRestore()) off() })
        cleanups.push(off)
      }
    } else if (!readOnly && document.activeElement === document.body) {
      editor.view.focus()
    }
  }

  const cached = ctx.drafts.get(id)
  if (cached) void start(cached)
  else el.append(h('div', { class: 'page muted' }, 'Opening…'))
  // Fresh metadata (role, title); offline this fails and the cached entry is used.
  ctx.backend.getDraft(id).then(info => {
    if (destroyed) return
    ctx.drafts.upsert(info)
    if (!starting) void start(info)
    else if (cached && cached.role !== info.role) { teardown(); starting = false; void start(info) }
  }, (err) => {
    if (destroyed || starting) return
    const code = (err as { code?: string }).code
    notFound(code === 'not_found' || code === 'forbidden' ? 'It was deleted, or it is no longer shared with you.' : friendlyError(err))
  })

  const teardown = () => {
    for (const fn of cleanups.splice(0)) fn()
    editor?.destroy()
    editor = null
    if (open) { ctx.setStatusSource(null); open.close(); open = null }
  }
  const destroy = () => { destroyed = true; teardown() }

  return { el, destroy }
}
