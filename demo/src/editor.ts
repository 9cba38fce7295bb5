/**
 * The draft editor: CodeMirror 6 bound to a Y.Text with y-codemirror.next (shared text, remote
 * cursors and selections through awareness, collaborative undo).
 */
import * as Y from 'yjs'
import { EditorState, Compartment } from '@codemirror/state'
import { EditorView, keymap, placeholder, drawSelection, dropCursor, highlightSpecialChars } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { markdown } from '@codemirror/lang-markdown'
import { syntaxHighlighting, HighlightStyle } from '@codemirror/language'
import { tags } from '@lezer/highlight'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import type { Awareness } from 'y-protocols/awareness'
import { draftText } from './model.js'

const highlight = HighlightStyle.define([
  { tag: tags.heading1, fontSize: '1.6em', fontWeight: '700', fontFamily: 'ui-sans-serif, system-ui, sans-serif' },
  { tag: tags.heading2, fontSize: '1.3em', fontWeight: '700', fontFamily: 'ui-sans-serif, system-ui, sans-serif' },
  { tag: tags.heading3, fontSize: '1.1em', fontWeight: '700', fontFamily: 'ui-sans-serif, system-ui, sans-serif' },
  { tag: tags.strong, fontWeight: '700' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: tags.link, color: 'var(--accent)', textDecoration: 'underline' },
  { tag: tags.url, color: 'var(--accent)' },
  { tag: tags.monospace, fontFamily: 'ui-monospace, monospace', fontSize: '.9em' },
  { tag: tags.quote, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.processingInstruction, tags.meta], color: 'var(--muted)' },
  { tag: tags.list, color: 'var(--accent)' }
])

export interface DraftEditor {
  view: EditorView
  setReadOnly (readOnly: boolean): void
  /** The caret as a Yjs relative position (survives concurrent edits), JSON-serialisable. */
  cursor (): unknown
  /** Put the caret at a position saved by `cursor()` (on any device) and scroll it into view. */
  restoreCursor (rel: unknown): boolean
  destroy (): void
}

export const createEditor = (parent: HTMLElement, opts: { doc: Y.Doc, awareness: Awareness, readOnly: boolean, label: string, onCursor?: (rel: unknown) => void }): DraftEditor => {
  const ytext = draftText(opts.doc)
  const undoManager = new Y.UndoManager(ytext)
  const editable = new Compartment()
  const readOnlyExt = (ro: boolean) => [EditorState.readOnly.of(ro), EditorView.editable.of(!ro)]
  let cursorTimer: ReturnType<typeof setTimeout> | undefined

  const cursorOf = (view: EditorView) => Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(ytext, view.state.selection.main.head))

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        EditorView.lineWrapping,
        markdown(),
        syntaxHighlighting(highlight),
        placeholder('Start writing… (Markdown works: # heading, **bold**, - list)'),
        // Tab is left to the browser so that keyboard users can leave the editor.
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
        yCollab(ytext, opts.awareness, { undoManager }),
        editable.of(readOnlyExt(opts.readOnly)),
        EditorView.contentAttributes.of({ 'aria-label': opts.label, 'aria-multiline': 'true', spellcheck: 'true' }),
        EditorView.updateListener.of(update => {
          if (!opts.onCursor || !(update.selectionSet || update.docChanged)) return
          clearTimeout(cursorTimer)
          cursorTimer = setTimeout(() => opts.onCursor?.(cursorOf(view)), 400)
        })
      ]
    })
  })

  return {
    view,
    setReadOnly (ro) { view.dispatch({ effects: editable.reconfigure(readOnlyExt(ro)) }) },
    cursor: () => cursorOf(view),
    restoreCursor (rel) {
      try {
        const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(rel), opts.doc)
        if (!abs || abs.type !== ytext) return false
        const pos = Math.min(abs.index, view.state.doc.length)
        view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) })
        view.focus()
        return true
      } catch { return false }
    },
    destroy () {
      clearTimeout(cursorTimer)
      view.destroy()
      undoManager.destroy()
    }
  }
}
