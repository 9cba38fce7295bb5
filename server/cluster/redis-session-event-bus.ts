import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { redisTimeId } from './redis-connection.js'
import type { SessionEndedEvent, SessionEventBus, SessionEventHandler } from './session-event-bus.js'
import { field, type StreamReader } from './stream-reader.js'

/** Entries kept in the session event stream (approximately). */
export const SESSION_STREAM_MAXLEN = 100_000

/**
 * Session events on one Redis Stream `<prefix>sessions`, read by every node from the moment it starts:
 * a stream, not pub/sub, so a node whose connection dropped reads what it missed from its last id.
 */
export class RedisSessionEventBus implements SessionEventBus {
  private constructor (
    private readonly writer: Redis,
    private readonly reader: StreamReader,
    private readonly handle: SessionEventHandler,
    private readonly opts: { prefix: string, nodeId: string, logger: Logger }
  ) {}

  /** The stream every node reads. */
  get key (): string { return `${this.opts.prefix}sessions` }

  static async start (writer: Redis, reader: StreamReader, handle: SessionEventHandler, opts: { prefix: string, nodeId: string, logger: Logger }): Promise<RedisSessionEventBus> {
    const bus = new RedisSessionEventBus(writer, reader, handle, opts)
    reader.follow(bus.key, await redisTimeId(writer), fields => {
      if (field(fields, 'n')?.toString() === opts.nodeId) return
      const sessionId = field(fields, 's')?.toString()
      if (sessionId) handle({ sessionId, reason: field(fields, 'r')?.toString() ?? 'ended' })
    })
    return bus
  }

  publish (event: SessionEndedEvent): void {
    this.handle(event)
    this.writer.xadd(this.key, 'MAXLEN', '~', SESSION_STREAM_MAXLEN, '*', 'n', this.opts.nodeId, 's', event.sessionId, 'r', event.reason)
      .catch((err: Error) => this.opts.logger.error({ err: err.message }, 'could not publish a session event to Redis'))
  }

  async close (): Promise<void> { this.reader.unfollow(this.key) }
}
