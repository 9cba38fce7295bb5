/** Minimal promise wrappers over IndexedDB: enough for a key/value profile, no dependency. */
export const idbRequest = <T>(req: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result)
  req.onerror = () => reject(req.error)
})

export const idbOpen = (name: string, stores: string[]): Promise<IDBDatabase> => new Promise((resolve, reject) => {
  const req = indexedDB.open(name, 1)
  req.onupgradeneeded = () => { for (const s of stores) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s) }
  req.onsuccess = () => resolve(req.result)
  req.onerror = () => reject(req.error)
})

export const idbDelete = (name: string): Promise<void> => new Promise((resolve, reject) => {
  const req = indexedDB.deleteDatabase(name)
  req.onsuccess = () => resolve()
  req.onerror = () => reject(req.error)
  // Another connection still open: the delete completes once it closes; do not hang the caller on it.
  req.onblocked = () => resolve()
})
