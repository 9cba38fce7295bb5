import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { decodeWakeup, registerFollower, unregisterFollower } from './stream-append.js'
import { compareStreamIds } from './stream-id.js'

/** Called with each entry's fields as name/value pairs, in stream order. */
export type StreamEntryHandler = (fields: Buffer[]) => void

interface Reading { lastId: string, handle: StreamEntryHandler }

/** Entries read per stream per XREAD; a stream that returns this many is read again. */
const COUNT = 1000
/** Streams per XREAD (the rest wait for the next read), and per registration call. */
const KEYS_PER_READ = 500
const RETRY_MS = 500
/** Every followed stream is read at least this often, woken or not. */
export const SWEEP_MS = 1000
/** A registration as a stream's follower lasts this long, and is renewed a third of it before. */
export const FOLLOW_TTL_MS = 30_000

/**
 * Delivers the entries of the streams this node follows (documents it holds, session events, key
 * changes) in stream order, each stream from the last id seen. Writers append with `appendToStreams`,
 * which sends the records of a call's entries to the wake-up channel of each follower of their
 * streams, one message per channel; this reader registers `channel` as a follower of every stream it
 * follows (renewed every FOLLOW_TTL_MS / 3) and `subscriber` (a connection of its own, in subscriber
 * mode) subscribes to it. A record whose previous id is the stream's last id seen delivers its entry
 * at once. Any other (an entry missed, one too large to travel, the stream just followed) marks the
 * stream dirty: one non-blocking XREAD at a time reads the dirty streams from their last ids, and
 * streams marked while it is in flight are read by the next one. So a node reads what has news, and
 * mostly only from its wake-ups: one per writer's call, whatever the number of entries in it.
 *
 * Wake-ups are hints; the stream is the log. Nothing is missed because a stream is also marked dirty
 * when it is followed (again once its registration is confirmed, so an entry appended before that is
 * read then), every followed stream when the subscriber connection is back (wake-ups published while
 * it was away are lost; registrations are renewed then too, in case Redis itself restarted), and every
 * followed stream each `sweepMs` (entries appended without a wake-up: a node of an older version
 * during a rolling upgrade).
 */
export class StreamReader {
  private readonly streams = new Map<string, Reading>()
  private readonly dirty = new Set<string>()
  /** Followed streams whose registration is not sent yet. */
  private readonly toRegister = new Set<string>()
  private registering = 0
  private reading: Promise<void> | null = null
  private scheduled = false
  private registerScheduled = false
  private stopped = false
  private failing = false
  private readonly sweep: NodeJS.Timeout
  private readonly renew: NodeJS.Timeout
  /** This reader's wake-up channel. */
  readonly channel: string
  private readonly followTtlMs: number

  constructor (
    private readonly reader: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
    opts: { channel: string, sweepMs?: number, followTtlMs?: number }
  ) {
    this.channel = opts.channel
    this.followTtlMs = opts.followTtlMs ?? FOLLOW_TTL_MS
    subscriber.options.autoResubscribe = false // subscribeAll does it, then reads what the lost wake-ups carried
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => { if (channel.toString() === this.channel) this.woken(message) })
    subscriber.on('ready', () => this.subscribeAll())
    if (subscriber.status === 'ready') this.subscribeAll()
    this.sweep = setInterval(() => this.markAllDirty(), opts.sweepMs ?? SWEEP_MS)
    this.sweep.unref()
    this.renew = setInterval(() => this.register([...this.streams.keys()], false), this.followTtlMs / 3)
    this.renew.unref()
  }

  /** Follow `key` from after `fromId`; replaces an earlier follow of the same key. */
  follow (key: string, fromId: string, handle: StreamEntryHandler): void {
    this.streams.set(key, { lastId: fromId, handle })
    this.markDirty(key)
    this.toRegister.add(key)
    if (this.registerScheduled) return
    this.registerScheduled = true
    // The follows of one turn (a burst of documents loading) register in one call.
    setImmediate(() => {
      this.registerScheduled = false
      const keys = [...this.toRegister]
      this.toRegister.clear()
      this.register(keys, true)
    })
  }

  /** The id of the last entry read from `key` (or where its follow started); undefined when not followed. */
  position (key: string): string | undefined { return this.streams.get(key)?.lastId }

  unfollow (key: string): void {
    if (!this.streams.delete(key)) return
    this.dirty.delete(key)
    this.toRegister.delete(key) // a registration not sent yet is not sent
    unregisterFollower(this.reader, this.channel, key).catch(() => {}) // or its registration expires
  }

  /** Resolves once no registration or read is scheduled, in flight or due (every stream marked dirty is read). */
  async settled (): Promise<void> {
    for (let i = 0; i < 1000 && !this.stopped && (this.registerScheduled || this.registering > 0 || this.scheduled || this.reading || this.dirty.size > 0); i++) {
      await (this.reading ?? new Promise(resolve => setTimeout(resolve, this.registering > 0 ? 5 : 0)))
    }
  }

  async close (): Promise<void> {
    this.stopped = true
    clearInterval(this.sweep)
    clearInterval(this.renew)
    await this.reading
  }

  /** Registers this reader as a follower of `keys`; with `thenRead`, reads them once it is confirmed. */
  private register (keys: string[], thenRead: boolean): void {
    for (let i = 0; i < keys.length; i += KEYS_PER_READ) {
      const batch = keys.slice(i, i + KEYS_PER_READ)
      this.registering++
      registerFollower(this.reader, this.channel, batch, this.followTtlMs).then(() => {
        if (thenRead) for (const key of batch) this.markDirty(key)
      }, (err: Error) => {
        // Renewed by the next renewal or reconnection; meanwhile the sweep reads these streams.
        if (!this.stopped) this.logger.warn({ err: err.message, streams: batch.length }, 'could not register as a stream follower; retrying later')
      }).finally(() => { this.registering-- })
    }
  }

  private subscribeAll (): void {
    this.subscriber.subscribe(this.channel).then(() => {
      this.register([...this.streams.keys()], false)
      this.markAllDirty()
    }, (err: Error) => {
      // The connection dropped again: its next 'ready' subscribes again.
      this.logger.warn({ err: err.message }, 'could not subscribe to stream wake-ups; retrying on reconnection')
    })
  }

  private woken (message: Buffer): void {
    const records = decodeWakeup(message)
    if (!records) { this.markAllDirty(); return }
    for (const r of records) {
      const reading = this.streams.get(r.key)
      if (!reading) continue
      if (r.prev !== reading.lastId || r.fields === 'read') {
        // Unless it is already here (read along with an earlier one).
        if (compareStreamIds(r.id, reading.lastId) > 0) this.markDirty(r.key)
      } else if (r.fields === 'own') {
        reading.lastId = r.id // this node's own entry: its writer has it
      } else {
        this.apply(r.key, reading, r.id, r.fields)
      }
    }
  }

  private apply (key: string, reading: Reading, id: string, fields: Buffer[]): void {
    reading.lastId = id
    try {
      reading.handle(fields)
    } catch (err) {
      this.logger.error({ stream: key, err: (err as Error).message }, 'could not apply a stream entry; skipped it')
    }
  }

  private markDirty (key: string): void {
    if (!this.streams.has(key)) return
    this.dirty.add(key)
    this.schedule()
  }

  private markAllDirty (): void {
    for (const key of this.streams.keys()) this.dirty.add(key)
    this.schedule()
  }

  /** A read soon: after the wake-ups already received in this turn of the event loop. */
  private schedule (): void {
    if (this.scheduled || this.reading || this.stopped || this.dirty.size === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (this.reading || this.stopped || this.dirty.size === 0) return
      this.reading = this.read().finally(() => {
        this.reading = null
        this.schedule()
      })
    })
  }

  private async read (): Promise<void> {
    const batch = new Map<string, Reading>()
    for (const key of this.dirty) {
      if (batch.size >= KEYS_PER_READ) break
      batch.set(key, this.streams.get(key)!)
      this.dirty.delete(key)
    }
    const keys = [...batch.keys()]
    let reply: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null
    try {
      reply = await this.reader.callBuffer('XREAD', ['COUNT', COUNT, 'STREAMS', ...keys, ...keys.map(k => batch.get(k)!.lastId)]) as typeof reply
      this.failing = false
    } catch (err) {
      for (const key of keys) this.markDirty(key)
      if (this.stopped) return
      if (!this.failing) this.logger.error({ err: (err as Error).message }, 'reading Redis streams failed; retrying')
      this.failing = true
      await new Promise(resolve => setTimeout(resolve, RETRY_MS))
      return
    }
    for (const [keyBuf, entries] of reply ?? []) {
      const key = keyBuf.toString()
      const reading = batch.get(key)
      // Unfollowed or followed again from another id while the read was in flight: not these entries.
      if (!reading || this.streams.get(key) !== reading) continue
      for (const [idBuf, fields] of entries) {
        const id = idBuf.toString()
        if (compareStreamIds(id, reading.lastId) > 0) this.apply(key, reading, id, fields) // else woken meanwhile
      }
      if (entries.length >= COUNT) this.markDirty(key)
    }
  }
}

/** Whether `bytes` are the ASCII text `text` (compared without decoding: entries are read per update). */
export const isText = (bytes: Buffer, text: string): boolean => {
  if (bytes.length !== text.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false
  return true
}

/** The value of field `name` (ASCII) in an entry's name/value pairs. */
export const field = (fields: Buffer[], name: string): Buffer | undefined => {
  for (let i = 0; i + 1 < fields.length; i += 2) if (isText(fields[i]!, name)) return fields[i + 1]
  return undefined
}
