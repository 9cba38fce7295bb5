import type { Redis } from 'ioredis'
import { encodeUpdate } from '../../shared/protocol.js'
import type { Logger } from '../observe/logger.js'
import type { Connection } from '../sync/connection.js'
import type { DocUpdateBus, DocUpdateSubscriber } from './doc-update-bus.js'
import { redisTimeId } from './redis-connection.js'
import { appendToStream, appendToStreams, type StreamAppend } from './stream-append.js'
import { field, isText, type StreamReader } from './stream-reader.js'
import { compareStreamIds } from './stream-id.js'

/**
 * Entries kept per document stream (approximately: MAXLEN ~). A safety bound: compaction trims the
 * stream far earlier (`trim`), and what this drops is long in storage.
 */
export const DOC_STREAM_MAXLEN = 10_000
/** A document stream nobody wrote to for this long is deleted, so idle documents hold no Redis memory. */
export const DOC_STREAM_IDLE_MS = 60 * 60_000
/**
 * Entries younger than this stay in the stream even once a snapshot holds them: a node that loaded the
 * previous snapshot just before reads them from the stream (the log rows of another node may not have
 * been in storage yet when it loaded).
 */
export const TRIM_AFTER_MS = 60_000
/** Least time between two append calls of a node, in ms (see RedisDocUpdateBus.pending). */
export const APPEND_INTERVAL_MS = 2
/** Presence entries kept per document (approximately), and how far back a new subscription reads them. */
export const AWARENESS_STREAM_MAXLEN = 100
export const AWARENESS_REPLAY_MS = 30_000

/**
 * Each document is a Redis Stream `<prefix>doc:<name>`: a node appends every update it accepts (with its
 * node id and the update's store key) and reads the streams of the documents it holds, skipping its own
 * entries. A stream id is a position: a snapshot records the one it holds everything up to.
 */
export class RedisDocUpdateBus implements DocUpdateBus {
  private readonly subscribers = new Map<string, DocUpdateSubscriber>()
  /** Publishing fails (Redis away): logged once until a publish succeeds again. */
  private failing = false
  /**
   * Appends waiting to go out, in order, as one script call, which Redis answers and which wakes each
   * follower with one message: a call costs every node a wake-up, whatever the number of updates in it.
   * A call goes at the end of the turn of the event loop that queued its first update, so a quiet node
   * adds no delay; but at most one every APPEND_INTERVAL_MS, so a node whose devices' messages arrive
   * one per turn (steady traffic from many devices) makes a few hundred calls a second, not one per
   * update. No timer for the first: a timer of its own would wake the process once more per call.
   */
  private pending: StreamAppend[] = []
  /** The documents of `pending`'s updates. */
  private pendingDocs = new Set<string>()
  /**
   * Documents with updates Redis refused (an error reply, a command timeout) while the connection
   * stayed up: their state goes out again with the next call Redis accepts.
   */
  private unpublished = new Set<string>()
  private turnEnd: NodeJS.Immediate | null = null
  private windowEnd: NodeJS.Timeout | null = null
  /** When the last call went out (performance.now()). */
  private lastCall = -Infinity
  private readonly intervalMs: number

  constructor (
    private readonly writer: Redis,
    private readonly reader: StreamReader,
    /** `trimAfterMs`: TRIM_AFTER_MS by default; 0 trims regardless of age. */
    private readonly opts: { prefix: string, nodeId: string, logger: Logger, trimAfterMs?: number, appendIntervalMs?: number }
  ) {
    this.intervalMs = opts.appendIntervalMs ?? APPEND_INTERVAL_MS
    // Updates accepted while Redis was away were stored but not published, and a node holding the
    // document answers its devices from memory: when the connection is back, the state of every
    // document held here goes out once, so devices on other nodes get what they missed (applying it
    // changes nothing where they have it all).
    let lost = false
    writer.on('error', () => { lost = true })
    writer.on('close', () => { lost = true }) // also dropped without an error: by the stall watch (index.ts)
    writer.on('ready', () => {
      if (!lost) return
      lost = false
      this.unpublished.clear()
      this.republish([...this.subscribers.keys()])
      if (this.subscribers.size > 0) this.opts.logger.info({ documents: this.subscribers.size }, 'Redis is back: republished the state of every held document')
    })
  }

  /** Appends the whole state of each held document of `docs` (a document that failed again waits for the next time). */
  private republish (docs: Iterable<string>): void {
    for (const doc of docs) {
      const subscriber = this.subscribers.get(doc)
      if (!subscriber) continue
      const state = subscriber.state()
      appendToStream(this.writer, this.key(doc), DOC_STREAM_MAXLEN, DOC_STREAM_IDLE_MS, ['n', this.opts.nodeId, 'k', '', 'u', Buffer.from(state.buffer, state.byteOffset, state.byteLength)], { origin: this.reader.channel })
        .catch((err: Error) => {
          this.unpublished.add(doc)
          this.opts.logger.error({ doc, err: err.message }, 'could not republish a document to Redis')
        })
    }
  }

  /** An entry this node appended. */
  private own (fields: Buffer[]): boolean {
    const node = field(fields, 'n')
    return node !== undefined && isText(node, this.opts.nodeId)
  }

  private key (doc: string): string { return `${this.opts.prefix}doc:${doc}` }
  /** Presence of the document's devices: short-lived, a stream so a new subscriber reads the last ones. */
  private awarenessKey (doc: string): string { return `${this.opts.prefix}aw:${doc}` }

  subscribe (doc: string, from: string, subscriber: DocUpdateSubscriber): void {
    this.subscribers.set(doc, subscriber)
    this.reader.follow(this.key(doc), from === '' ? '0' : from, fields => {
      if (this.own(fields)) return
      const update = field(fields, 'u')
      if (!update) return
      const bytes = new Uint8Array(update.buffer, update.byteOffset, update.byteLength)
      this.subscribers.get(doc)?.deliver(bytes, encodeUpdate(bytes), null, field(fields, 'k')?.toString() ?? '')
    })
    // Presence from the last AWARENESS_REPLAY_MS (by this node's clock): what devices elsewhere show now.
    this.reader.follow(this.awarenessKey(doc), `${Math.max(0, Date.now() - AWARENESS_REPLAY_MS)}-0`, fields => {
      if (this.own(fields)) return
      const update = field(fields, 'u')
      if (update) this.subscribers.get(doc)?.deliverAwareness(new Uint8Array(update.buffer, update.byteOffset, update.byteLength))
    })
  }

  unsubscribe (doc: string, subscriber: DocUpdateSubscriber): void {
    if (this.subscribers.get(doc) !== subscriber) return
    this.subscribers.delete(doc)
    this.reader.unfollow(this.key(doc))
    this.reader.unfollow(this.awarenessKey(doc))
  }

  publish (doc: string, update: Uint8Array, frame: Uint8Array, from: Connection | undefined, key: string): void {
    this.subscribers.get(doc)?.deliver(update, frame, from, key)
    const data = Buffer.from(update.buffer, update.byteOffset, update.byteLength)
    this.pendingDocs.add(doc)
    this.queue({ key: this.key(doc), maxLen: DOC_STREAM_MAXLEN, ttlMs: DOC_STREAM_IDLE_MS, fields: ['n', this.opts.nodeId, 'k', key, 'u', data] })
  }

  publishAwareness (doc: string, update: Uint8Array): void {
    const data = Buffer.from(update.buffer, update.byteOffset, update.byteLength)
    this.queue({ key: this.awarenessKey(doc), maxLen: AWARENESS_STREAM_MAXLEN, ttlMs: AWARENESS_REPLAY_MS * 2, fields: ['n', this.opts.nodeId, 'u', data] })
  }

  private queue (append: StreamAppend): void {
    this.pending.push(append)
    if (this.turnEnd || this.windowEnd) return
    const wait = this.lastCall + this.intervalMs - performance.now()
    if (wait > 0) this.windowEnd = setTimeout(() => this.flush(), wait)
    else this.turnEnd = setImmediate(() => this.flush())
  }

  /** Sends the waiting appends, in order, in one script call. */
  private flush (): void {
    if (this.turnEnd) clearImmediate(this.turnEnd)
    if (this.windowEnd) clearTimeout(this.windowEnd)
    this.turnEnd = null
    this.windowEnd = null
    if (this.pending.length === 0) return
    this.lastCall = performance.now()
    const appends = this.pending
    const docs = this.pendingDocs
    this.pending = []
    this.pendingDocs = new Set()
    appendToStreams(this.writer, appends, { origin: this.reader.channel, ids: false }).then(() => {
      this.failing = false
      if (this.unpublished.size === 0) return
      const again = this.unpublished
      this.unpublished = new Set()
      this.republish(again)
    }, (err: Error) => {
      for (const doc of docs) this.unpublished.add(doc)
      if (!this.failing) this.opts.logger.error({ updates: appends.length, err: err.message }, 'could not publish updates to Redis; they go out again with the next updates Redis accepts')
      this.failing = true
    })
  }

  seen (doc: string): string {
    const id = this.reader.position(this.key(doc))
    return id === undefined || id === '0' ? '' : id
  }

  async trim (doc: string, upTo: string): Promise<void> {
    if (upTo === '') return
    const stream = this.key(doc)
    const delayMs = this.opts.trimAfterMs ?? TRIM_AFTER_MS
    await (delayMs > 0 ? redisTimeId(this.writer, delayMs) : Promise.resolve(upTo))
      .then(old => this.writer.xtrim(stream, 'MINID', compareStreamIds(old, upTo) < 0 ? old : upTo))
      .catch((err: Error) => this.opts.logger.warn({ doc, err: err.message }, 'could not trim the document stream'))
  }

  async close (): Promise<void> {
    this.flush()
    for (const doc of this.subscribers.keys()) {
      this.reader.unfollow(this.key(doc))
      this.reader.unfollow(this.awarenessKey(doc))
    }
    this.subscribers.clear()
  }
}
