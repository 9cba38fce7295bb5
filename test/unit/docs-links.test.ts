import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

/** The user-facing documents: every relative link in them must resolve. */
const root = path.resolve(import.meta.dirname, '../..')
const documents = [
  'README.md',
  'tools/bench/README.md',
  ...fs.readdirSync(path.join(root, 'docs')).filter(f => f.endsWith('.md')).map(f => `docs/${f}`)
]

/** Markdown without fenced code blocks and inline code, where link syntax is only text. */
const prose = (markdown: string): string =>
  markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading.replace(/`/g, '').trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')

const anchors = (file: string): Set<string> => {
  const text = fs.readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  return new Set([...text.matchAll(/^#{1,6} +(.+)$/gm)].map(m => slug(m[1]!)))
}

/** Relative link targets of a document: `[text](target)`, without external URLs and mail links. */
const links = (markdown: string): string[] =>
  [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map(m => m[1]!).filter(t => !/^[a-z][a-z0-9+.-]*:/i.test(t))

describe('documentation', () => {
  it('finds the documents and their links', () => {
    expect(documents).toContain('docs/protocol.md')
    expect(links('see [a](docs/a.md#b), `[not](a link)`, [web](https://example.com)')).toEqual(['docs/a.md#b'])
    expect(slug('Extension points for `cluster` mode')).toBe('extension-points-for-cluster-mode')
  })

  for (const doc of documents) {
    it(`${doc}: every relative link resolves, anchors included`, () => {
      const from = path.dirname(path.join(root, doc))
      for (const target of links(fs.readFileSync(path.join(root, doc), 'utf8'))) {
        const [file, anchor] = target.split('#') as [string, string | undefined]
        const resolved = file === '' ? path.join(root, doc) : path.resolve(from, file)
        expect(fs.existsSync(resolved), `${doc} → ${target}`).toBe(true)
        if (anchor && resolved.endsWith('.md')) expect(anchors(resolved).has(anchor), `${doc} → ${target}`).toBe(true)
      }
    })
  }

  it('README stays a short overview (at most 15 KB)', () => {
    expect(fs.statSync(path.join(root, 'README.md')).size).toBeLessThanOrEqual(15 * 1024)
  })

  it('no lab history: no session or issue numbers, no history files', () => {
    for (const doc of documents) {
      expect(fs.readFileSync(path.join(root, doc), 'utf8'), doc).not.toMatch(/session [0-9]|issue #?[0-9]|HISTORY\.md/i)
    }
    expect(fs.existsSync(path.join(root, 'tools/bench/HISTORY.md'))).toBe(false)
  })
})
