import type { Redis } from 'ioredis'
import { encodeUpdate } from '../../shared/protocol.js'
import type { Logger } from '../observe/logger.js'
import type { Connection } from '../sync/connection.js'
import type { DocUpdateBus, DocUpdateSubscriber } from './doc-update-bus.js'
import { redisTimeId } from './redis-connection.js'
import { field, type StreamReader } from './stream-reader.js'

/** Entries kept per document stream (approximately: MAXLEN ~). */
export const DOC_STREAM_MAXLEN = 10_000
/** A document stream nobody wrote to for this long is deleted, so idle documents hold no Redis memory. */
export const DOC_STREAM_IDLE_MS = 60 * 60_000

/**
 * How far back a new subscription reads. The node that accepted an update publishes it at once and
 * writes it to storage within its batch window; a load that ran in between misses it in storage, so the
 * subscription starts this much earlier and applies those updates again (applying a Yjs update twice
 * changes nothing).
 */
export const REPLAY_MS = 10_000

/**
 * Each document is a Redis Stream `<prefix>doc:<name>`: a node appends every update it accepts (with its
 * node id) and reads the streams of the documents it holds, skipping its own entries.
 */
export class RedisDocUpdateBus implements DocUpdateBus {
  private readonly subscribers = new Map<string, DocUpdateSubscriber>()
  /** Publishing fails (Redis away): logged once until a publish succeeds again. */
  private failing = false

  constructor (
    private readonly writer: Redis,
    private readonly reader: StreamReader,
    private readonly opts: { prefix: string, nodeId: string, logger: Logger }
  ) {}

  private key (doc: string): string { return `${this.opts.prefix}doc:${doc}` }

  position (): Promise<string> { return redisTimeId(this.writer, REPLAY_MS) }

  subscribe (doc: string, from: string, subscriber: DocUpdateSubscriber): void {
    this.subscribers.set(doc, subscriber)
    this.reader.follow(this.key(doc), from, fields => {
      if (field(fields, 'n')?.toString() === this.opts.nodeId) return
      const update = field(fields, 'u')
      if (!update) return
      const bytes = new Uint8Array(update.buffer, update.byteOffset, update.byteLength)
      this.subscribers.get(doc)?.deliver(bytes, encodeUpdate(bytes), null)
    })
  }

  unsubscribe (doc: string, subscriber: DocUpdateSubscriber): void {
    if (this.subscribers.get(doc) !== subscriber) return
    this.subscribers.delete(doc)
    this.reader.unfollow(this.key(doc))
  }

  publish (doc: string, update: Uint8Array, frame: Uint8Array, from: Connection | undefined): void {
    this.subscribers.get(doc)?.deliver(update, frame, from)
    const data = Buffer.from(update.buffer, update.byteOffset, update.byteLength)
    const key = this.key(doc)
    this.writer.multi()
      .xadd(key, 'MAXLEN', '~', DOC_STREAM_MAXLEN, '*', 'n', this.opts.nodeId, 'u', data)
      .pexpire(key, DOC_STREAM_IDLE_MS)
      .exec()
      .then(() => { this.failing = false }, (err: Error) => {
        if (!this.failing) this.opts.logger.error({ doc, err: err.message }, 'could not publish updates to Redis; devices on other nodes get them when they next sync')
        this.failing = true
      })
  }

  async close (): Promise<void> {
    for (const doc of this.subscribers.keys()) this.reader.unfollow(this.key(doc))
    this.subscribers.clear()
  }
}
