/** The drafts home: "continue where you left off", my drafts, shared with me; create, rename, delete, share. */
import { h, append, icon, clear, toast, openDialog, confirmDialog, val, busy, relativeTime, initials, colorFor } from '../dom.js'
import { navigate, type Ctx } from '../app.js'
import { friendlyError, type DocInfo, type LastActive, type Playback } from '../backend.js'
import type { DraftEdit } from '../model.js'
import { MEDIA, formatTime } from './tv.js'

/** "Edited 2 min ago by Ana on Laptop" ("you" for the signed-in person, `me`). */
export const editedText = (e: DraftEdit, me: string): string => `Edited ${relativeTime(e.at)} by ${e.by === me ? 'you' : e.by} on ${e.on}`

// ------------------------------------------------------------------------------------ actions

/** Ask for a title, create the draft, open it. */
export const newDraftFlow = (ctx: Ctx): Promise<void> => new Promise(resolve => {
  const error = h('div', { class: 'form-error', role: 'alert' })
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: 'new-draft-form' }, 'Create')
  const form = h('form', { id: 'new-draft-form' },
    error,
    h('div', { class: 'field' },
      h('label', { for: 'new-draft-title' }, 'Title'),
      h('input', { class: 'input', id: 'new-draft-title', name: 'title', maxLength: 200, placeholder: 'Untitled draft', autocomplete: 'off' })))
  const d = openDialog({
    title: 'New draft',
    body: form,
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit],
    onClose: () => resolve()
  })
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const title = val(form, 'title') || 'Untitled draft'
    void busy(submit, async () => {
      try {
        const doc = await ctx.backend.createDraft(title)
        ctx.drafts.upsert(doc)
        d.close()
        navigate(`/d/${doc.id}`)
      } catch (err) { error.textContent = friendlyError(err) }
    })
  })
})

export const renameFlow = (ctx: Ctx, doc: DocInfo) => {
  const error = h('div', { class: 'form-error', role: 'alert' })
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: 'rename-form' }, 'Rename')
  const form = h('form', { id: 'rename-form' },
    error,
    h('div', { class: 'field' },
      h('label', { for: 'rename-title' }, 'Title'),
      h('input', { class: 'input', id: 'rename-title', name: 'title', maxLength: 200, value: doc.title, autocomplete: 'off' })))
  const d = openDialog({ title: 'Rename draft', body: form, actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Cancel'), submit] })
  form.querySelector('input')?.select()
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const title = val(form, 'title')
    if (!title) { error.textContent = 'Enter a title.'; return }
    void busy(submit, async () => {
      try {
        ctx.drafts.upsert(await ctx.backend.renameDraft(doc.id, title))
        d.close()
        toast('Renamed.', 'success')
      } catch (err) { error.textContent = friendlyError(err) }
    })
  })
}

export const deleteFlow = async (ctx: Ctx, doc: DocInfo): Promise<boolean> => {
  const ok = await confirmDialog('Delete draft?', `“${doc.title || 'Untitled'}” will be deleted for you and everyone it is shared with. This cannot be undone.`, 'Delete', true)
  if (!ok) return false
  try {
    await ctx.backend.deleteDraft(doc.id)
    ctx.drafts.remove(doc.id)
    toast('Draft deleted.', 'success')
    return true
  } catch (err) {
    toast(friendlyError(err), 'error')
    return false
  }
}

/** Share dialog: current members, add by email as editor or viewer, remove. */
export const shareFlow = (ctx: Ctx, doc: DocInfo) => {
  const list = h('div', { class: 'members', 'aria-live': 'polite' })
  const error = h('div', { class: 'form-error', role: 'alert' })
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, icon('share', 16), 'Share')
  const form = h('form', { class: 'share-form', 'aria-label': 'Share with someone' },
    error,
    h('div', { class: 'field' },
      h('label', { for: 'share-email' }, 'Email of the person to share with'),
      h('input', { class: 'input', id: 'share-email', name: 'email', type: 'email', autocomplete: 'off', required: true, placeholder: 'name@example.com' })),
    h('div', { class: 'row row-wrap' },
      h('label', { class: 'sr-only', for: 'share-role' }, 'Role'),
      h('select', { class: 'input', id: 'share-role', name: 'role', style: 'width:auto;flex:1' },
        h('option', { value: 'editor' }, 'Can edit'),
        h('option', { value: 'viewer' }, 'Can view')),
      submit))

  const renderMembers = (info: DocInfo) => {
    clear(list)
    const members = info.members ?? []
    if (!members.length) { list.append(h('p', { class: 'muted small' }, 'Only you have access.')); return }
    for (const m of members) {
      const { color } = colorFor(m.userId)
      list.append(h('div', { class: 'member' },
        h('span', { class: 'avatar', style: `background:${color}` }, initials(m.email)),
        h('span', { class: 'grow' }, m.email, m.userId === ctx.account.userId ? h('span', { class: 'muted' }, ' (you)') : null),
        h('span', { class: 'role-tag' }, m.role),
        m.role !== 'owner' && doc.role === 'owner'
          ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Remove ${m.email}`, title: 'Remove access', onclick: () => void remove(m.userId) }, icon('close', 16))
          : null))
    }
  }
  const load = async () => {
    try { renderMembers(await ctx.backend.getDraft(doc.id)) } catch (err) { clear(list); list.append(h('p', { class: 'muted small' }, friendlyError(err))) }
  }
  const remove = async (userId: string) => {
    try { await ctx.backend.removeMember(doc.id, userId); toast('Access removed.', 'success'); await load() } catch (err) { toast(friendlyError(err), 'error') }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const email = val(form, 'email')
    const role = val(form, 'role') === 'viewer' ? 'viewer' : 'editor'
    if (!email.includes('@')) { error.textContent = 'Enter an email address.'; return }
    error.textContent = ''
    void busy(submit, async () => {
      try {
        await ctx.backend.addMember(doc.id, email, role)
        toast(`Shared with ${email} (${role === 'editor' ? 'can edit' : 'can view'}).`, 'success')
        ;(form.elements.namedItem('email') as HTMLInputElement).value = ''
        await load()
      } catch (err) {
        error.textContent = (err as { code?: string }).code === 'not_found' ? 'No account uses that email address.' : friendlyError(err)
      }
    })
  })

  const d = openDialog({
    title: `Share “${doc.title || 'Untitled'}”`,
    className: 'share-dialog',
    body: [form, h('h3', { style: 'margin-top:16px' }, 'People with access'), list],
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => d.close() }, 'Done')]
  })
  list.append(h('p', { class: 'muted small' }, 'Loading…'))
  void load()
}

// --------------------------------------------------------------------------------------- page

const continueCard = (ctx: Ctx, last: LastActive): HTMLElement | null => {
  if (last.sessionId === ctx.account.sessionId) return null
  const doc = ctx.drafts.get(last.docId)
  if (ctx.drafts.loaded && !doc) return null
  const title = doc?.title || last.title || 'Untitled'
  return h('section', { class: 'card continue-card', 'data-testid': 'continue-card', 'aria-label': 'Continue where you left off' },
    h('div', { class: 'device-icon', 'aria-hidden': 'true' }, icon('devices', 22)),
    h('div', { class: 'grow' },
      h('div', { class: 'muted small' }, 'Continue where you left off'),
      h('div', { class: 'title' }, title),
      h('div', { class: 'muted small' }, `On ${last.deviceName || 'another device'} · ${relativeTime(last.at)}`)),
    h('button', {
      class: 'btn btn-primary',
      type: 'button',
      'data-testid': 'continue-button',
      onclick: () => { ctx.pendingCursor = { docId: last.docId, cursor: last.cursor }; navigate(`/d/${last.docId}`) }
    }, 'Continue', icon('arrowRight', 16)))
}

/** "Continue watching at 12:34 — you were watching on Laptop": the player's position from another device. */
const watchCard = (p: Playback): HTMLElement =>
  h('section', { class: 'card continue-card', 'data-testid': 'watch-card', 'aria-label': 'Continue watching' },
    h('div', { class: 'device-icon', 'aria-hidden': 'true' }, icon('play', 22)),
    h('div', { class: 'grow' },
      h('div', { class: 'muted small' }, 'Continue watching'),
      h('div', { class: 'title' }, MEDIA.title),
      h('div', { class: 'muted small', 'data-testid': 'watch-where' }, `At ${formatTime(p.seconds)}${p.deviceName ? ` on ${p.deviceName}` : ''} · ${relativeTime(p.at)}`)),
    // The player has its own full-screen layout: a page load, not an in-app route.
    h('a', { class: 'btn btn-primary', href: '/tv', 'data-testid': 'watch-button' }, 'Resume', icon('arrowRight', 16)))

const draftCard = (ctx: Ctx, d: DocInfo) => {
  const owner = d.role === 'owner'
  const canRename = d.role !== 'viewer'
  const me = ctx.account.email.split('@')[0] ?? ctx.account.email
  // Content edits (any collaborator, any device of this account) beat the server's updatedAt (renames, sharing).
  const edit = ctx.backend.draftEdits().get(d.id)
  const roleText = d.role === 'editor' ? 'You can edit' : 'You can view'
  const meta = edit ? editedText(edit, me) + (owner ? '' : ` · ${roleText}`) : owner ? `Edited ${relativeTime(d.updatedAt)}` : roleText
  return h('article', { class: 'draft-card', 'data-testid': 'draft-card', 'data-doc': d.id },
    h('a', { class: 't', href: `/d/${d.id}`, 'data-link': true }, d.title || 'Untitled'),
    h('div', { class: 'muted small', 'data-testid': 'draft-card-edited' }, meta),
    h('div', { class: 'card-actions' },
      canRename ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Rename ${d.title}`, title: 'Rename', 'data-action': 'rename', onclick: () => renameFlow(ctx, d) }, icon('edit', 16)) : null,
      owner ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Share ${d.title}`, title: 'Share', 'data-action': 'share', onclick: () => shareFlow(ctx, d) }, icon('share', 16)) : null,
      owner ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Delete ${d.title}`, title: 'Delete', 'data-action': 'delete', onclick: () => void deleteFlow(ctx, d) }, icon('trash', 16)) : null,
      !owner ? h('span', { class: 'role-tag' }, d.role) : null,
      !owner ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Leave ${d.title}`, title: 'Leave (remove it from your list)', 'data-action': 'leave', onclick: () => void leaveFlow(ctx, d) }, icon('logout', 16)) : null))
}

const leaveFlow = async (ctx: Ctx, doc: DocInfo) => {
  if (!(await confirmDialog('Leave this draft?', `“${doc.title || 'Untitled'}” stays with its owner; you lose access until they share it again.`, 'Leave', true))) return
  try {
    await ctx.backend.removeMember(doc.id, ctx.account.userId)
    ctx.drafts.remove(doc.id)
    toast('You left the draft.', 'success')
  } catch (err) { toast(friendlyError(err), 'error') }
}

export const homePage = (ctx: Ctx) => {
  const el = h('div', { class: 'page home' })
  const render = () => {
    clear(el)
    const last = ctx.backend.lastActive()
    lastKey = stateKey()
    const watching = ctx.backend.playback(MEDIA.id)
    const mine = ctx.drafts.mine
    const shared = ctx.drafts.shared
    append(el, [
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, 'Drafts'), h('p', { class: 'muted', style: 'margin:4px 0 0' }, `Signed in as ${ctx.account.email} on ${ctx.account.deviceName}`)),
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'new-draft', onclick: () => void newDraftFlow(ctx) }, icon('plus'), 'New draft')),
      ctx.drafts.stale ? h('div', { class: 'card banner-inline' }, icon('cloudOff', 16), ' You are offline. Showing the drafts saved on this device.') : null,
      last ? continueCard(ctx, last) : null,
      watching && !watching.mine && watching.seconds > 0 ? watchCard(watching) : null,
      h('section', { 'aria-labelledby': 'mine-h', class: 'section' },
        h('h2', { id: 'mine-h' }, 'My drafts'),
        mine.length
          ? h('div', { class: 'draft-grid', 'data-testid': 'my-drafts' }, mine.map(d => draftCard(ctx, d)))
          : h('div', { class: 'card empty' }, icon('doc', 32), h('p', null, ctx.drafts.loaded ? 'No drafts yet. Start one — it syncs to every device you sign in on.' : 'Loading your drafts…'))),
      h('section', { 'aria-labelledby': 'shared-h', class: 'section' },
        h('h2', { id: 'shared-h' }, 'Shared with me'),
        shared.length
          ? h('div', { class: 'draft-grid', 'data-testid': 'shared-drafts' }, shared.map(d => draftCard(ctx, d)))
          : h('p', { class: 'muted' }, 'When someone shares a draft with you, it shows here.'))])
  }
  let lastKey = ''
  // What the page shows of the session state: re-render when it changed, not for every preference.
  const stateKey = () => JSON.stringify([ctx.backend.lastActive(), ctx.backend.playback(MEDIA.id), [...ctx.backend.draftEdits()]])
  const unsub = ctx.drafts.subscribe(render)
  const unsubState = ctx.backend.onSessionState(() => { if (stateKey() !== lastKey) render() })
  render()
  void ctx.drafts.refresh()
  return { el, destroy () { unsub(); unsubState() } }
}
