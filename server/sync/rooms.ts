import type { CloseCodeValue } from '../../shared/protocol.js'
import { Room } from './room.js'
import type { SyncContext } from './context.js'
import { MergeWorker, type Merger } from '../yjs/merger.js'

interface Entry {
  room: Promise<Room>
  /** Acquirers between `acquire` and `attach`: a room is never unloaded under them. */
  pending: number
  unloadTimer: NodeJS.Timeout | null
  unloading: Promise<void> | null
}

/**
 * Devices that leave together (a network blip, the end of a load run) end their documents' grace
 * periods together, and Node runs timers that expire together back to back without reading a socket in
 * between. Each unload copies its document for the merge worker, so unloads that come due are queued
 * and started a few per turn.
 */
const UNLOADS_PER_TURN = 8
const UNLOAD_BUDGET_MS = 4

/**
 * The registry of loaded documents. Concurrent first connections share one load; a document is
 * flushed and unloaded `unloadGraceMs` after its last connection leaves.
 */
export class Rooms {
  private entries = new Map<string, Entry>()
  /** Rooms whose grace period ended, waiting for `drainUnloads`; re-checked when their turn comes. */
  private unloadQueue: Array<{ room: Room, entry: Entry }> = []
  private draining = false

  /** `merger`: where rooms compact (a worker thread by default); `unloadAll` stops its thread. */
  constructor (private readonly ctx: SyncContext, private readonly merger: Merger = new MergeWorker()) {}

  get size () { return this.entries.size }

  /** Loaded room for `name`. Call `release` after attaching the connection (or giving up). */
  async acquire (name: string): Promise<Room> {
    let entry = this.entries.get(name)
    while (entry?.unloading) {
      await entry.unloading
      entry = this.entries.get(name)
    }
    if (!entry) {
      entry = { room: this.load(name), pending: 0, unloadTimer: null, unloading: null }
      this.entries.set(name, entry)
      const created = entry
      created.room.catch(() => { if (this.entries.get(name) === created) this.entries.delete(name) })
    }
    entry.pending++
    if (entry.unloadTimer) { clearTimeout(entry.unloadTimer); entry.unloadTimer = null }
    try {
      return await entry.room
    } catch (err) {
      entry.pending--
      throw err
    }
  }

  release (name: string): void {
    const entry = this.entries.get(name)
    if (!entry) return
    entry.pending--
    void entry.room.then(room => { if (room.connections.size === 0) this.scheduleUnload(room) })
  }

  /** Close the sockets `userId` holds on document `name` (their access to it changed). */
  async closeUserSockets (name: string, userId: string, code: CloseCodeValue, reason: string): Promise<number> {
    const entry = this.entries.get(name)
    if (!entry) return 0
    const room = await entry.room.catch(() => null)
    let n = 0
    for (const conn of [...room?.connections ?? []]) {
      if (conn.principal.userId === userId) { conn.close(code, reason); n++ }
    }
    return n
  }

  /** Send `frame` to the connections of a loaded document that `to` picks; how many it went to. */
  async sendTo (name: string, frame: Uint8Array, to: (conn: Room['connections'] extends Set<infer C> ? C : never) => boolean): Promise<number> {
    const entry = this.entries.get(name)
    if (!entry) return 0
    const room = await entry.room.catch(() => null)
    let n = 0
    for (const conn of room?.connections ?? []) if (to(conn)) { conn.send(frame); n++ }
    return n
  }

  /**
   * Delete a document: close its sockets (`code`), unload it without writing, delete it from storage.
   * Callers revoke access first, so nobody can open it again meanwhile.
   */
  async purge (name: string, code: CloseCodeValue, reason: string): Promise<void> {
    const entry = this.entries.get(name)
    if (entry) {
      if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
      entry.unloadTimer = null
      if (entry.unloading) await entry.unloading.catch(() => {})
      const room = await entry.room.catch(() => null)
      if (room && this.entries.get(name) === entry) {
        for (const conn of [...room.connections]) conn.close(code, reason)
        this.entries.delete(name)
        this.ctx.store.release(name) // destroy() below flushes what was queued before deleting
        room.destroy()
        this.ctx.metrics.documents.dec()
      }
    }
    await this.ctx.store.destroy(name)
  }

  /** Every loaded room (for shutdown and metrics). */
  async loaded (): Promise<Room[]> {
    const settled = await Promise.allSettled([...this.entries.values()].map(e => e.room))
    return settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
  }

  /** Unload everything at once (shutdown): compact, flush, free, and stop the merge worker. */
  async unloadAll (): Promise<void> {
    for (const entry of this.entries.values()) if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
    this.unloadQueue = []
    await Promise.all([...this.entries.values()].map(e => e.unloading?.catch(() => {})))
    const rooms = await this.loaded()
    await Promise.all(rooms.map(room => room.compact()))
    await this.ctx.store.flush()
    for (const room of rooms) { this.ctx.store.release(room.name); room.destroy() }
    this.entries.clear()
    this.ctx.metrics.documents.set(0)
    await this.merger.close()
  }

  private async load (name: string): Promise<Room> {
    const end = this.ctx.metrics.docLoadLatency.startTimer()
    const stored = await this.ctx.store.load(name)
    await this.ctx.afterLoad?.(name)
    const room = new Room(name, stored, this.ctx, this.merger, r => this.scheduleUnload(r))
    // From the position the stored state holds everything up to: whatever was accepted anywhere after
    // it reaches the room, stored by then or not (the room skips what it loaded).
    this.ctx.updates.subscribe(name, stored.position, room)
    end()
    this.ctx.metrics.documents.inc()
    return room
  }

  private scheduleUnload (room: Room): void {
    const entry = this.entries.get(room.name)
    if (!entry || entry.unloadTimer || entry.unloading || entry.pending > 0 || room.connections.size > 0) return
    entry.unloadTimer = setTimeout(() => {
      entry.unloadTimer = null
      if (entry.pending > 0 || room.connections.size > 0) return
      this.unloadQueue.push({ room, entry })
      if (!this.draining) { this.draining = true; setImmediate(this.drainUnloads) }
    }, this.ctx.config.unloadGraceMs)
    entry.unloadTimer.unref()
  }

  /** Start up to UNLOADS_PER_TURN queued unloads (or UNLOAD_BUDGET_MS of them), then yield to I/O. */
  private drainUnloads = (): void => {
    const start = performance.now()
    let started = 0
    while (this.unloadQueue.length > 0 && started < UNLOADS_PER_TURN && performance.now() - start < UNLOAD_BUDGET_MS) {
      const { room, entry } = this.unloadQueue.shift()!
      // Reopened, purged, shut down, already unloading or due again later: not this one, not now.
      if (this.entries.get(room.name) !== entry || entry.unloading || entry.unloadTimer || entry.pending > 0 || room.connections.size > 0) continue
      started++
      entry.unloading = this.unload(room).then(
        () => { if (this.entries.get(room.name) === entry) this.entries.delete(room.name) },
        () => { entry.unloading = null; this.scheduleUnload(room) }
      )
    }
    if (this.unloadQueue.length > 0) setImmediate(this.drainUnloads)
    else this.draining = false
  }

  private async unload (room: Room): Promise<void> {
    await room.compact()
    try {
      await this.ctx.store.flush()
    } catch (err) {
      // Storage is failing: keep the document in memory so nothing is lost; retry later.
      this.ctx.logger.error({ doc: room.name, err: (err as Error).message }, 'unload flush failed; keeping document loaded')
      throw err
    }
    this.ctx.store.release(room.name)
    room.destroy()
    this.ctx.metrics.documents.dec()
    this.ctx.logger.debug({ doc: room.name }, 'document unloaded')
  }
}
