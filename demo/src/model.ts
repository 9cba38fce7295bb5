/**
 * The demo app's own data model, kept out of the SDK (which only knows generic session state):
 *  - a draft document holds its text in the Y.Text `content` and a live copy of its title in the
 *    Y.Map `meta` (the API owns the title; the copy carries a rename to every open editor at once);
 *  - a content edit stamps the draft's `meta` with `editedAt`, `editedBy` (a name) and `editedOn` (a
 *    device name), throttled, so that every collaborator sees who edited last, renames aside;
 *  - the session document keeps `draftEdits` (draft id → the newest such stamp this account has
 *    seen), so that the drafts list on every device of the account shows it without opening drafts;
 *  - the preferences in the session document are the theme and the editor's text size.
 */
import type * as Y from 'yjs'
import type { PreferenceGuards } from '../../client/index.js'

const DRAFT_TEXT = 'content'
const DRAFT_META = 'meta'
const TITLE = 'title'

/** The shared text of a draft document. */
export const draftText = (doc: Y.Doc): Y.Text => doc.getText(DRAFT_TEXT)

export const setLiveTitle = (doc: Y.Doc, title: string): void => { doc.getMap<string>(DRAFT_META).set(TITLE, title) }

/** Calls `fn` with the title whenever another editor (or this one) renames the draft. */
export const onLiveTitle = (doc: Y.Doc, fn: (title: string) => void): () => void => {
  const meta = doc.getMap<unknown>(DRAFT_META)
  const handler = () => {
    const t = meta.get(TITLE)
    if (typeof t === 'string' && t) fn(t)
  }
  meta.observe(handler)
  return () => meta.unobserve(handler)
}

/** Who last changed a draft's content, and where. */
export interface DraftEdit { at: number, by: string, on: string }

const EDITED_AT = 'editedAt'
const EDITED_BY = 'editedBy'
const EDITED_ON = 'editedOn'
const DRAFT_EDITS = 'draftEdits'

const asEdit = (at: unknown, by: unknown, on: unknown): DraftEdit | null =>
  typeof at === 'number' && Number.isFinite(at) && typeof by === 'string' && typeof on === 'string' ? { at, by, on } : null

/** The draft's last content edit, from its meta map. */
export const lastEdit = (doc: Y.Doc): DraftEdit | null => {
  const meta = doc.getMap<unknown>(DRAFT_META)
  return asEdit(meta.get(EDITED_AT), meta.get(EDITED_BY), meta.get(EDITED_ON))
}

export const stampEdit = (doc: Y.Doc, e: DraftEdit): void => {
  const meta = doc.getMap<unknown>(DRAFT_META)
  doc.transact(() => { meta.set(EDITED_AT, e.at); meta.set(EDITED_BY, e.by); meta.set(EDITED_ON, e.on) })
}

/** Calls `fn` whenever the draft's edit stamp changes (here or on another device). */
export const onLastEdit = (doc: Y.Doc, fn: (e: DraftEdit) => void): () => void => {
  const meta = doc.getMap<unknown>(DRAFT_META)
  const handler = (ev: Y.YMapEvent<unknown>) => {
    if (!ev.keysChanged.has(EDITED_AT)) return
    const e = lastEdit(doc)
    if (e) fn(e)
  }
  meta.observe(handler)
  return () => meta.unobserve(handler)
}

/**
 * Calls `fn` after each local transaction that changed the draft's text (typing, paste, undo), never
 * for content arriving from the server or the cache.
 */
export const onLocalTextEdit = (doc: Y.Doc, fn: () => void): () => void => {
  const text = draftText(doc)
  const handler = (ev: Y.YTextEvent) => { if (ev.transaction.local) fn() }
  text.observe(handler)
  return () => text.unobserve(handler)
}

/** The session document's index of draft edits: the newest stamp per draft id. */
export const draftEdits = (sessionDoc: Y.Doc): Map<string, DraftEdit> => {
  const out = new Map<string, DraftEdit>()
  for (const [id, v] of sessionDoc.getMap<unknown>(DRAFT_EDITS).entries()) {
    const r = v as Record<string, unknown> | null
    const e = r && typeof r === 'object' ? asEdit(r.at, r.by, r.on) : null
    if (e) out.set(id, e)
  }
  return out
}

/** Records a stamp in the session document unless it already holds a newer one. */
export const recordDraftEdit = (sessionDoc: Y.Doc, draftId: string, e: DraftEdit): void => {
  const known = draftEdits(sessionDoc).get(draftId)
  if (known && known.at >= e.at) return
  sessionDoc.getMap<unknown>(DRAFT_EDITS).set(draftId, { at: e.at, by: e.by, on: e.on })
}

export type Theme = 'system' | 'light' | 'dark'
export interface Preferences { theme: Theme, fontSize: number }
export const DEFAULT_PREFS: Preferences = { theme: 'system', fontSize: 16 }
export const FONT_SIZES = [14, 16, 18, 20, 22]

const isTheme = (v: unknown): v is Theme => v === 'system' || v === 'light' || v === 'dark'

/** Values written by another device (another app version) that this one cannot show read as the defaults. */
export const PREFERENCE_GUARDS: PreferenceGuards<Preferences> = {
  theme: isTheme,
  fontSize: (v) => typeof v === 'number' && v >= 10 && v <= 32
}
