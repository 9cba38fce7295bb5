import { describe, expect, it, vi } from 'vitest'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import * as Y from 'yjs'
import { CONTENT_ANY_PATCH, EMIT_PATCH, applyPatch, yjsPatchPlugin } from '../../server/yjs/yjs-patch.js'

const root = path.resolve(import.meta.dirname, '../..')
const require = createRequire(import.meta.url)
const yjsSource = () => readFile(path.join(path.dirname(require.resolve('yjs')), 'yjs.mjs'), 'utf8')
const observableSource = () => readFile(path.join(path.dirname(require.resolve('lib0/package.json')), 'observable.js'), 'utf8')

describe('yjs patches (server bundle)', () => {
  it('apply to the installed Yjs and lib0 and refuse source they do not recognise', async () => {
    expect(applyPatch(CONTENT_ANY_PATCH, await yjsSource())).toContain('if (len === 1) return new ContentAny([decoder.readAny()]);')
    expect(applyPatch(EMIT_PATCH, await observableSource()).split('if (observers === undefined) return').length).toBe(3)
    expect(() => applyPatch(CONTENT_ANY_PATCH, 'export const x = 1')).toThrow(/yjs readContentAny not found/)
    expect(() => applyPatch(EMIT_PATCH, 'export const x = 1')).toThrow(/lib0 Observable#emit \(two classes\) not found/)
  })

  it('the patched Yjs decodes every kind of ContentAny to the same state as stock Yjs', async () => {
    // Next to node_modules so the patched module resolves lib0 like the original.
    const file = path.join(root, 'build/test-yjs-patched.mjs')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, applyPatch(CONTENT_ANY_PATCH, await yjsSource()).replace(/^\/\/# sourceMappingURL=.*$/m, ''))
    // A second copy of Yjs warns that constructor checks break across copies: this test never mixes them.
    const warn = vi.spyOn(console, 'error').mockImplementation(() => {})
    const P = await import(pathToFileURL(file).href) as typeof Y
    warn.mockRestore()
    const source = new Y.Doc()
    const updates: Uint8Array[] = []
    source.on('update', (u: Uint8Array) => updates.push(u))
    const map = source.getMap('m')
    map.set('s', 'one'); map.set('n', 42); map.set('o', { a: [1, 'x', null], b: true }); map.set('u', undefined); map.set('s', 'two')
    source.getArray('a').push([1, 'two', { three: 3 }]); source.getArray('a').push(['single']); source.getArray('a').delete(1, 1)
    const stock = new Y.Doc(); const patched = new P.Doc()
    for (const u of updates) { Y.applyUpdate(stock, u); P.applyUpdate(patched, u) }
    P.applyUpdate(patched, Y.encodeStateAsUpdate(source)) // and one update holding everything at once
    expect(patched.getMap('m').toJSON()).toEqual(source.getMap('m').toJSON())
    expect(patched.getArray('a').toJSON()).toEqual([1, { three: 3 }, 'single'])
    expect(Buffer.from(P.encodeStateAsUpdate(patched))).toEqual(Buffer.from(Y.encodeStateAsUpdate(stock)))
  })

  it('the patched emit calls the same listeners, in order, with the same arguments, and none when there are none', async () => {
    // Next to node_modules, with lib0's relative imports pointed at the installed lib0.
    const file = path.join(root, 'build/test-lib0-observable.mjs')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, applyPatch(EMIT_PATCH, await observableSource()).replace(/from '\.\/(\w+)\.js'/g, "from 'lib0/$1'"))
    const { ObservableV2, Observable } = await import(pathToFileURL(file).href) as typeof import('lib0/observable')
    const old = new Observable<string>()
    const heard: unknown[] = []
    old.emit('change', [1]) // nobody listens
    old.on('change', (...args: unknown[]) => heard.push(args))
    old.emit('change', [1, 2])
    expect(heard).toEqual([[1, 2]])
    const o = new ObservableV2<{ e: (a: number, b: string) => void, other: () => void }>()
    expect(() => o.emit('e', [1, 'x'])).not.toThrow() // nobody listens
    const calls: string[] = []
    const late = () => calls.push('late')
    o.on('e', (a, b) => { calls.push(`first ${a} ${b}`); o.on('e', late) }) // added while emitting: not called now
    o.once('e', (a, b) => calls.push(`once ${a} ${b}`))
    o.emit('e', [1, 'x'])
    o.emit('e', [2, 'y'])
    expect(calls).toEqual(['first 1 x', 'once 1 x', 'first 2 y', 'late'])
    o.off('e', late)
    o.emit('other', [])
    expect(calls.length).toBe(4)
  })

  it('fails the build when the bundle does not load the file it patches', async () => {
    const entry = path.join(root, 'build/test-yjs-patch-entry.mjs')
    await writeFile(entry, 'export const x = 1\n')
    await expect(build({ entryPoints: [entry], bundle: true, write: false, logLevel: 'silent', plugins: [yjsPatchPlugin()] })).rejects.toThrow(/yjs readContentAny, lib0 Observable#emit \(two classes\), so the patch was not applied/)
  })
})
