import type { Plugin } from 'esbuild'
import { readFile } from 'node:fs/promises'

/**
 * Two small changes to Yjs and its utility library lib0, applied when the server is bundled
 * (server/build.ts). Each keeps behaviour byte-for-byte (tested) and should go upstream, and this file
 * away with it. If the code they replace has moved, the build fails.
 */
interface SourcePatch {
  /** The file it applies to, under node_modules. */
  file: RegExp
  /** What the build error names. */
  what: string
  original: string
  patched: string
  /** How many times `original` occurs (all are replaced). */
  count: number
}

/**
 * Yjs decodes every value of a ContentAny (what `Y.Map#set` and `Y.Array#push` of JSON write) by
 * pushing into `[]`. V8 gives an array its first backing store with 17 slots, so a map value decoded
 * from an update keeps 152 bytes of array for one element for as long as the value lives. The server
 * decodes every value it stores. Decoding a one-value ContentAny into an array literal makes that
 * 24 bytes: heap per stored map edit 480 → 353 B (250 documents × 800 edits of the bench's updates,
 * after a forced GC); applying them got no slower. It reads no more and no fewer bytes.
 */
export const CONTENT_ANY_PATCH: SourcePatch = {
  file: /[\\/]node_modules[\\/]yjs[\\/]dist[\\/]yjs\.mjs$/,
  what: 'yjs readContentAny',
  original: `const readContentAny = decoder => {
  const len = decoder.readLen();
  const cs = [];`,
  patched: `const readContentAny = decoder => {
  const len = decoder.readLen();
  if (len === 1) return new ContentAny([decoder.readAny()]);
  const cs = [];`,
  count: 1
}

/**
 * lib0's `emit` (in ObservableV2, which Y.Doc extends, and in the older Observable, which y-protocols'
 * Awareness extends: the same method twice) copies the listeners of an event into a new array, and when there are none it first
 * creates an empty Map to copy from. Every Yjs transaction emits six events (beforeTransaction,
 * beforeObserverCalls, afterTransaction, …) that nobody on the server listens to: six Maps, iterators
 * and arrays of garbage per transaction, and the server runs one transaction per document per
 * event-loop turn, i.e. about one per edit. Returning early when nobody listens calls the same
 * listeners (none) with the same arguments.
 */
export const EMIT_PATCH: SourcePatch = {
  file: /[\\/]node_modules[\\/]lib0[\\/]observable\.js$/,
  what: 'lib0 Observable#emit (two classes)',
  original: `  emit (name, args) {
    // copy all listeners to an array first to make sure that no event is emitted to listeners that are subscribed while the event handler is called.
    return array.from((this._observers.get(name) || map.create()).values()).forEach(f => f(...args))
  }`,
  patched: `  emit (name, args) {
    const observers = this._observers.get(name)
    if (observers === undefined) return
    // copy all listeners to an array first to make sure that no event is emitted to listeners that are subscribed while the event handler is called.
    return array.from(observers.values()).forEach(f => f(...args))
  }`,
  count: 2
}

export const PATCHES = [CONTENT_ANY_PATCH, EMIT_PATCH]

/** Apply one patch; throws when the code moved, so an upgrade fails the build loudly. */
export const applyPatch = (patch: SourcePatch, source: string): string => {
  const parts = source.split(patch.original)
  if (parts.length !== patch.count + 1) throw new Error(`yjs-patch: ${patch.what} not found as expected; re-check server/yjs-patch.ts against this version`)
  return parts.join(patch.patched)
}

/** The esbuild plugin; the build fails if any patched file was not bundled from the file patched. */
export const yjsPatchPlugin = (): Plugin => ({
  name: 'yjs-patches',
  setup (b) {
    const applied = new Set<SourcePatch>()
    for (const patch of PATCHES) {
      b.onLoad({ filter: patch.file }, async args => {
        applied.add(patch)
        return { contents: applyPatch(patch, await readFile(args.path, 'utf8')), loader: 'js' }
      })
    }
    b.onEnd(() => {
      const missing = PATCHES.filter(p => !applied.has(p))
      if (missing.length) throw new Error(`yjs-patch: the bundle did not load the file of ${missing.map(p => p.what).join(', ')}, so the patch was not applied`)
    })
  }
})
