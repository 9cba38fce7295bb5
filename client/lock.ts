import type { ProfileStore } from './profile-store.js'

/**
 * Refreshes of one profile must never overlap: the refresh token rotates, and presenting the old
 * one twice is reuse, which the server answers by revoking the whole device session.
 *
 * Browser: navigator.locks spans tabs and workers. Elsewhere: an in-process mutex keyed by profile
 * id (several SDK instances in one process), plus the store's own lock (a lock file across processes).
 */
const tails = new Map<string, Promise<unknown>>()

const inProcess = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
  const prev = tails.get(key) ?? Promise.resolve()
  const run = prev.then(fn, fn)
  const tail = run.then(() => {}, () => {})
  tails.set(key, tail)
  try {
    return await run
  } finally {
    if (tails.get(key) === tail) tails.delete(key)
  }
}

interface LockManagerLike { request<T> (name: string, cb: () => Promise<T>): Promise<T> }

export const withProfileLock = <T>(store: ProfileStore, fn: () => Promise<T>): Promise<T> => {
  const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks
  const name = `sync-sdk-refresh:${store.id}`
  if (locks?.request) return locks.request(name, fn)
  return inProcess(name, () => (store.withLock ? store.withLock(fn) : fn()))
}
