import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MergeWorker } from '../../server/yjs/merger.js'
import { mergeUpdates } from '../../server/yjs/merge-updates.js'

const updatesOf = (n: number, client: number) => {
  const doc = new Y.Doc()
  doc.clientID = client
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  for (let i = 0; i < n; i++) doc.getMap('m').set(`k${i % 7}`, `${client}:${i}`)
  return { doc, out }
}

const workers: MergeWorker[] = []
afterEach(async () => { for (const w of workers.splice(0)) await w.close() })
const worker = () => { const w = new MergeWorker(); workers.push(w); return w }

describe('the merge worker', () => {
  it('answers each job with exactly what mergeUpdates gives on the main thread', async () => {
    const w = worker()
    const jobs = [1, 2, 3, 4, 5].map(client => updatesOf(20 * client, client))
    const merged = await Promise.all(jobs.map(j => w.merge(j.out)))
    jobs.forEach((j, i) => {
      expect(merged[i]).toEqual(mergeUpdates(j.out))
      const copy = new Y.Doc(); Y.applyUpdate(copy, merged[i]!)
      expect(copy.getMap('m').toJSON()).toEqual(j.doc.getMap('m').toJSON())
    })
  })

  it('tells onError when Yjs throws applying, and answers with the byte merge, as mergeUpdates does', async () => {
    const good = updatesOf(1, 9).out[0]!
    const bad = new Uint8Array([0, 1, 77, 1, 5, 0]) // an empty delete range: Yjs throws after reading it
    const errors: string[] = []
    const merged = await worker().merge([good, bad], err => errors.push(err.message))
    expect(errors).toHaveLength(1)
    expect(merged).toEqual(mergeUpdates([good, bad], () => {}))
  })

  it('close() rejects the jobs still running; a later job starts the worker again', async () => {
    const w = worker()
    const running = w.merge(updatesOf(2000, 3).out)
    const closed = w.close()
    await expect(running).rejects.toThrow(/closed/)
    await closed
    const later = updatesOf(5, 4).out
    expect(await w.merge(later)).toEqual(mergeUpdates(later))
  })
})
