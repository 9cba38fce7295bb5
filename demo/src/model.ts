/**
 * The demo app's own data model, kept out of the SDK (which only knows generic session state):
 *  - a draft document holds its text in the Y.Text `content` and a live copy of its title in the
 *    Y.Map `meta` (the API owns the title; the copy carries a rename to every open editor at once);
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
