import type { Plugin } from 'esbuild'
import { readFile } from 'node:fs/promises'

/**
 * A one-line change to Yjs, applied when the server is bundled (server/build.ts).
 *
 * Yjs decodes every value of a ContentAny (what `Y.Map#set` and `Y.Array#push` of JSON write) by
 * pushing into `[]`. V8 gives an array its first backing store with 17 slots, so a map value decoded
 * from an update keeps 152 bytes of array for one element for as long as the value lives. The server
 * decodes every value it stores. Decoding a one-value ContentAny into an array literal makes that
 * 24 bytes: heap per stored map edit 480 → 353 B (250 documents × 800 edits of the bench's updates,
 * after a forced GC); applying them got no slower. The patch reads no more and no fewer bytes, so the
 * decoded state is the same (tested); it should go upstream to Yjs, and this file away with it.
 */
const ORIGINAL = `const readContentAny = decoder => {
  const len = decoder.readLen();
  const cs = [];`
const PATCHED = `const readContentAny = decoder => {
  const len = decoder.readLen();
  if (len === 1) return new ContentAny([decoder.readAny()]);
  const cs = [];`

/** Patch Yjs's bundled source; throws when the code moved, so an upgrade fails the build loudly. */
export const patchYjsSource = (source: string): string => {
  if (source.split(ORIGINAL).length !== 2) throw new Error('yjs-patch: readContentAny not found as expected; re-check server/yjs-patch.ts against this Yjs version')
  return source.replace(ORIGINAL, PATCHED)
}

/** The esbuild plugin; the build fails if Yjs was bundled from any file other than the one patched. */
export const yjsPatchPlugin = (): Plugin => ({
  name: 'yjs-content-any',
  setup (b) {
    let patched = false
    b.onLoad({ filter: /[\\/]node_modules[\\/]yjs[\\/]dist[\\/]yjs\.mjs$/ }, async args => {
      patched = true
      return { contents: patchYjsSource(await readFile(args.path, 'utf8')), loader: 'js' }
    })
    b.onEnd(() => { if (!patched) throw new Error('yjs-patch: the bundle did not load yjs/dist/yjs.mjs, so the patch was not applied') })
  }
})
