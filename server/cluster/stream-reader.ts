import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { decodeAnnouncement } from './stream-append.js'
import { compareStreamIds } from './stream-id.js'

/** Called with each entry's fields as name/value pairs, in stream order. */
export type StreamEntryHandler = (fields: Buffer[]) => void

interface Reading { lastId: string, handle: StreamEntryHandler }

/** Entries read per stream per XREAD; a stream that returns this many is read again. */
const COUNT = 1000
/** Streams per XREAD (the rest wait for the next read). */
const KEYS_PER_READ = 500
/** Channels per SUBSCRIBE when subscribing again after a reconnection. */
const CHANNELS_PER_SUBSCRIBE = 1000
const RETRY_MS = 500
/** Every followed stream is read at least this often, woken or not. */
export const SWEEP_MS = 1000

/**
 * Delivers the entries of the streams this node follows (documents it holds, session events, key
 * changes) in stream order, each stream from the last id seen. Writers append with `appendToStream`,
 * which announces each entry on the channel named like the stream; `subscriber` (a connection of its
 * own, in subscriber mode) subscribes to the channel of every followed stream. An announcement whose
 * previous id is the stream's last id seen delivers its entry at once. Any other (an entry missed,
 * one too large to travel in the message, the stream just followed) marks the stream dirty: one
 * non-blocking XREAD at a time reads the dirty streams from their last ids, and streams marked while
 * it is in flight are read by the next one. So a node reads what has news, and mostly only from its
 * subscription.
 *
 * Announcements are hints; the stream is the log. Nothing is missed because a stream is also marked
 * dirty when it is followed (again once its subscription is confirmed, so an entry appended before
 * that is read then), every followed stream when the subscriber connection is back (announcements
 * published while it was away are lost), and every followed stream each `sweepMs` (entries appended
 * without an announcement: a node of an older version during a rolling upgrade).
 */
export class StreamReader {
  private readonly streams = new Map<string, Reading>()
  private readonly dirty = new Set<string>()
  private reading: Promise<void> | null = null
  private scheduled = false
  private stopped = false
  private failing = false
  private readonly sweep: NodeJS.Timeout

  constructor (
    private readonly reader: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
    opts: { sweepMs?: number } = {}
  ) {
    subscriber.options.autoResubscribe = false // subscribeAll does it, then reads what the lost wake-ups announced
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.announced(channel.toString(), message))
    subscriber.on('ready', () => this.subscribeAll())
    this.sweep = setInterval(() => this.markAllDirty(), opts.sweepMs ?? SWEEP_MS)
    this.sweep.unref()
  }

  /** Follow `key` from after `fromId`; replaces an earlier follow of the same key. */
  follow (key: string, fromId: string, handle: StreamEntryHandler): void {
    this.streams.set(key, { lastId: fromId, handle })
    this.markDirty(key)
    this.subscriber.subscribe(key).then(() => this.markDirty(key), () => {}) // failed: subscribeAll does it on 'ready'
  }

  /** The id of the last entry read from `key` (or where its follow started); undefined when not followed. */
  position (key: string): string | undefined { return this.streams.get(key)?.lastId }

  unfollow (key: string): void {
    if (!this.streams.delete(key)) return
    this.dirty.delete(key)
    this.subscriber.unsubscribe(key).catch(() => {})
  }

  /** Resolves once no read is scheduled, in flight or due (every stream marked dirty is read). */
  async settled (): Promise<void> {
    for (let i = 0; i < 1000 && !this.stopped && (this.scheduled || this.reading || this.dirty.size > 0); i++) {
      await (this.reading ?? new Promise(resolve => setImmediate(resolve)))
    }
  }

  async close (): Promise<void> {
    this.stopped = true
    clearInterval(this.sweep)
    await this.reading
  }

  private subscribeAll (): void {
    const keys = [...this.streams.keys()]
    const batches: Array<Promise<unknown>> = []
    for (let i = 0; i < keys.length; i += CHANNELS_PER_SUBSCRIBE) batches.push(this.subscriber.subscribe(...keys.slice(i, i + CHANNELS_PER_SUBSCRIBE)))
    Promise.all(batches).then(() => this.markAllDirty(), (err: Error) => {
      // The connection dropped again: its next 'ready' subscribes again.
      this.logger.warn({ err: err.message }, 'could not subscribe to stream wake-ups; retrying on reconnection')
    })
  }

  private announced (key: string, message: Buffer): void {
    const reading = this.streams.get(key)
    if (!reading) return
    const entry = decodeAnnouncement(message)
    if (!entry || entry.prev !== reading.lastId) {
      // Unless it is already here (read along with an earlier one).
      if (!entry || compareStreamIds(entry.id, reading.lastId) > 0) this.markDirty(key)
      return
    }
    this.apply(key, reading, entry.id, entry.fields)
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
        if (compareStreamIds(id, reading.lastId) > 0) this.apply(key, reading, id, fields) // else announced meanwhile
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
