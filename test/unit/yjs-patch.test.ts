import { describe, expect, it, vi } from 'vitest'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import * as Y from 'yjs'
import { patchYjsSource, yjsPatchPlugin } from '../../server/yjs-patch.js'

const root = path.resolve(import.meta.dirname, '../..')
const yjsSource = () => readFile(path.join(path.dirname(createRequire(import.meta.url).resolve('yjs')), 'yjs.mjs'), 'utf8')

describe('yjs patch (server bundle)', () => {
  it('applies to the installed Yjs and refuses source it does not recognise', async () => {
    const patched = patchYjsSource(await yjsSource())
    expect(patched).toContain('if (len === 1) return new ContentAny([decoder.readAny()]);')
    expect(() => patchYjsSource('export const x = 1')).toThrow(/readContentAny not found/)
  })

  it('the patched Yjs decodes every kind of ContentAny to the same state as stock Yjs', async () => {
    // Next to node_modules so the patched module resolves lib0 like the original.
    const file = path.join(root, 'build/test-yjs-patched.mjs')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, patchYjsSource(await yjsSource()).replace(/^\/\/# sourceMappingURL=.*$/m, ''))
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

  it('fails the build when the bundle does not load the file it patches', async () => {
    const entry = path.join(root, 'build/test-yjs-patch-entry.mjs')
    await writeFile(entry, 'export const x = 1\n')
    await expect(build({ entryPoints: [entry], bundle: true, write: false, logLevel: 'silent', plugins: [yjsPatchPlugin()] })).rejects.toThrow(/patch was not applied/)
  })
})
