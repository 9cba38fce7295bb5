import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { redisTimeId } from './redis-connection.js'
import { appendToStream } from './stream-append.js'
import type { SessionEvent, SessionEventBus, SessionEventHandler } from './session-event-bus.js'
import { field, type StreamReader } from './stream-reader.js'

/** Entries kept in the session event stream (approximately). */
export const SESSION_STREAM_MAXLEN = 100_000
/** Events kept to publish again when Redis is back; beyond it the oldest go (and are logged). */
export const UNSENT_MAX = 10_000

/** An event's stream fields after the node id: `k` names the kind. */
const encodeEvent = (e: SessionEvent): string[] => {
  switch (e.kind) {
    case 'session-ended': return ['k', e.kind, 's', e.sessionId, 'r', e.reason, 'w', e.wipe ? '1' : '0']
    case 'doc-access-removed': return ['k', e.kind, 'd', e.docName, 'u', e.userId]
    case 'doc-deleted': return ['k', e.kind, 'd', e.docName]
    case 'security-alert': return ['k', e.kind, 'u', e.userId, 'm', e.message, ...(e.exceptSession ? ['x', e.exceptSession] : [])]
  }
}

/** An entry as an event; undefined for one this node does not know (a newer node's) or an incomplete one. */
const decodeEvent = (fields: Buffer[]): SessionEvent | undefined => {
  const get = (name: string) => field(fields, name)?.toString()
  const kind = get('k') ?? 'session-ended' // entries without a kind are session ends
  const sessionId = get('s')
  const docName = get('d')
  const userId = get('u')
  const message = get('m')
  if (kind === 'session-ended' && sessionId) return { kind, sessionId, reason: get('r') ?? 'ended', wipe: get('w') === '1' }
  if (kind === 'doc-access-removed' && docName && userId) return { kind, docName, userId }
  if (kind === 'doc-deleted' && docName) return { kind, docName }
  if (kind === 'security-alert' && userId && message) return { kind, userId, message, exceptSession: get('x') }
  return undefined
}

/**
 * Session events on one Redis Stream `<prefix>sessions`, read by every node from the moment it starts:
 * a stream, not pub/sub, so a node whose connection dropped reads what it missed from its last id.
 * An event this node could not publish (its connection was away) is kept, at most UNSENT_MAX, and
 * published when the connection is ready again: the other nodes apply it late rather than never.
 */
export class RedisSessionEventBus implements SessionEventBus {
  private unsent: SessionEvent[] = []
  private dropped = 0

  private constructor (
    private readonly writer: Redis,
    private readonly reader: StreamReader,
    private readonly handle: SessionEventHandler,
    private readonly opts: { prefix: string, nodeId: string, logger: Logger }
  ) {
    writer.on('ready', () => this.resend())
  }

  /** The stream every node reads. */
  get key (): string { return `${this.opts.prefix}sessions` }

  static async start (writer: Redis, reader: StreamReader, handle: SessionEventHandler, opts: { prefix: string, nodeId: string, logger: Logger }): Promise<RedisSessionEventBus> {
    const bus = new RedisSessionEventBus(writer, reader, handle, opts)
    reader.follow(bus.key, await redisTimeId(writer), fields => {
      if (field(fields, 'n')?.toString() === opts.nodeId) return
      const event = decodeEvent(fields)
      if (!event) return
      new Promise<void>(resolve => resolve(handle(event))).catch((err: Error) => opts.logger.error({ err: err.message, kind: event.kind }, 'could not apply a session event'))
    })
    return bus
  }

  async publish (event: SessionEvent): Promise<void> {
    const applied = this.handle(event)
    this.send(event)
    await applied
  }

  private send (event: SessionEvent): void {
    appendToStream(this.writer, this.key, SESSION_STREAM_MAXLEN, 0, ['n', this.opts.nodeId, ...encodeEvent(event)], { origin: this.reader.channel })
      .catch((err: Error) => {
        this.opts.logger.error({ err: err.message, kind: event.kind }, 'could not publish a session event to Redis; it is sent again when the connection is back')
        this.unsent.push(event)
        if (this.unsent.length > UNSENT_MAX) { this.unsent.shift(); this.dropped++ }
      })
  }

  /** Publishes the kept events again, oldest first; one that fails again is kept for the next time. */
  private resend (): void {
    if (this.dropped > 0) this.opts.logger.error({ dropped: this.dropped }, 'session events were not published and no longer kept: other nodes close those sockets at the sessions\' next check')
    this.dropped = 0
    for (const event of this.unsent.splice(0)) this.send(event)
  }

  async close (): Promise<void> { this.reader.unfollow(this.key) }
}
