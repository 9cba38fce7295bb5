/**
 * The merge worker's thread (merger.ts): merges each request's updates through a Y.Doc
 * (merge-updates.ts) and sends the result back, transferring its buffer.
 */
import { parentPort } from 'node:worker_threads'
import { buildDoc } from './merge-updates.js'
import type { MergeRequest, MergeResult } from './merger.js'

const port = parentPort
if (!port) throw new Error('merge-worker.ts runs as a worker thread (merger.ts)')

port.on('message', ({ id, bytes, ends }: MergeRequest) => {
  const parts: Uint8Array[] = []
  let from = 0
  for (const end of ends) { parts.push(new Uint8Array(bytes, from, end - from)); from = end }
  let error: string | undefined
  const built = buildDoc(parts, err => { error = err.message })
  built.doc?.destroy()
  // Transfer a buffer that holds exactly the update.
  const update = built.update.byteOffset === 0 && built.update.byteLength === built.update.buffer.byteLength ? built.update : built.update.slice()
  const result: MergeResult = { id, update, error }
  port.postMessage(result, [update.buffer as ArrayBuffer])
})
