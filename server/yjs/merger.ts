import { Worker } from 'node:worker_threads'

/** A request to the merge worker: the updates packed into one transferred buffer, each ending at `ends[i]`. */
export interface MergeRequest { id: number, bytes: ArrayBuffer, ends: number[] }
/** Its answer: the merged update (transferred), and the message of a Yjs error the merge fell back on. */
export interface MergeResult { id: number, update: Uint8Array, error?: string }

/** Merges a document's updates into one, off the event loop; rooms compact through it (room.ts). */
export interface Merger {
  /** Resolves to what `mergeUpdates(parts)` (merge-updates.ts) returns; `onError` as there. Rejects if the worker fails. */
  merge (parts: Uint8Array[], onError?: (err: Error) => void): Promise<Uint8Array>
  /** Rejects what is still running and stops the worker; a later merge starts another. */
  close (): Promise<void>
}

interface Job { resolve: (update: Uint8Array) => void, reject: (err: Error) => void, onError?: (err: Error) => void }

/**
 * The worker's module next to this one. Compiled (build/), it is JavaScript; run from the TypeScript
 * sources (tests, `tsx server/main.ts`), the thread loads it through tsx, as the main thread was.
 */
const startWorker = (): Worker => {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./merge-worker.js', import.meta.url))
  const tsx = import.meta.resolve('tsx/esm/api')
  const entry = new URL('./merge-worker.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(tsx)}).then(api => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`, { eval: true })
}

/**
 * One worker thread that merges through a Y.Doc (server/yjs/merge-worker.ts), jobs in order. Why: a
 * merge rebuilds the whole document, tens of milliseconds for a document of a megabyte, which on the
 * event loop would delay every socket. The worker starts with the first job, keeps the process alive
 * only while jobs run, and is started again after a crash or `close` (the jobs it held are rejected).
 */
export class MergeWorker implements Merger {
  private worker: Worker | null = null
  private readonly jobs = new Map<number, Job>()
  private nextId = 1

  merge (parts: Uint8Array[], onError?: (err: Error) => void): Promise<Uint8Array> {
    let size = 0
    for (const p of parts) size += p.byteLength
    const bytes = new Uint8Array(size)
    const ends: number[] = []
    let at = 0
    for (const p of parts) { bytes.set(p, at); at += p.byteLength; ends.push(at) }
    const worker = this.running()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, onError })
      if (this.jobs.size === 1) worker.ref()
      const request: MergeRequest = { id, bytes: bytes.buffer, ends }
      worker.postMessage(request, [bytes.buffer])
    })
  }

  async close (): Promise<void> {
    const worker = this.worker
    if (worker) this.fail(worker, new Error('the merge worker is closed'))
    await worker?.terminate()
  }

  private running (): Worker {
    if (this.worker) return this.worker
    const worker = startWorker()
    worker.unref()
    worker.on('message', (result: MergeResult) => this.settle(result))
    worker.on('error', err => this.fail(worker, err))
    worker.on('exit', code => this.fail(worker, new Error(`the merge worker exited with code ${code}`)))
    this.worker = worker
    return worker
  }

  private settle (result: MergeResult): void {
    const job = this.jobs.get(result.id)
    if (!job) return
    this.jobs.delete(result.id)
    if (this.jobs.size === 0) this.worker?.unref()
    if (result.error !== undefined) job.onError?.(new Error(result.error))
    job.resolve(result.update)
  }

  private fail (worker: Worker, err: Error): void {
    if (this.worker !== worker) return
    this.worker = null
    const jobs = [...this.jobs.values()]
    this.jobs.clear()
    for (const job of jobs) job.reject(err)
  }
}
