import { randomUUID } from 'node:crypto'
import type { Logger } from '../observe/logger.js'
import type { DocUpdateBus } from './doc-update-bus.js'
import { LocalDocUpdateBus } from './local-doc-update-bus.js'
import { LocalSessionEventBus } from './local-session-event-bus.js'
import type { SessionEventBus, SessionEventHandler } from './session-event-bus.js'

export interface Buses {
  updates: DocUpdateBus
  sessionEvents: SessionEventBus
  /** After the rooms are unloaded: stop reading and close the connections. */
  close (): Promise<void>
}

/**
 * In-process buses without `redisUrl`; with it, Redis Streams shared by every node on that Redis. The
 * Redis client is loaded only when it is used.
 */
export const openBuses = async (opts: { redisUrl: string, prefix: string, logger: Logger, onSessionEnded: SessionEventHandler }): Promise<Buses> => {
  if (!opts.redisUrl) {
    const updates = new LocalDocUpdateBus()
    return { updates, sessionEvents: new LocalSessionEventBus(opts.onSessionEnded), close: () => updates.close() }
  }
  const [{ connectRedis }, { StreamReader }, { RedisDocUpdateBus }, { RedisSessionEventBus }] = await Promise.all([
    import('./redis-connection.js'), import('./stream-reader.js'), import('./redis-doc-update-bus.js'), import('./redis-session-event-bus.js')
  ])
  const nodeId = randomUUID()
  const writer = connectRedis(opts.redisUrl, 'sync-writer', opts.logger)
  const readerConn = connectRedis(opts.redisUrl, 'sync-reader', opts.logger)
  try {
    await Promise.all([writer.connect(), readerConn.connect()])
  } catch (err) {
    writer.disconnect()
    readerConn.disconnect()
    throw new Error(`Redis at --redis-url is not reachable: ${(err as Error).message}`, { cause: err })
  }
  const reader = new StreamReader(readerConn, writer, opts.logger)
  const busOpts = { prefix: opts.prefix, nodeId, logger: opts.logger }
  const updates = new RedisDocUpdateBus(writer, reader, busOpts)
  const sessionEvents = await RedisSessionEventBus.start(writer, reader, opts.onSessionEnded, busOpts)
  opts.logger.info({ node: nodeId, prefix: opts.prefix }, 'cluster mode: document updates and session events on Redis')
  return {
    updates,
    sessionEvents,
    async close () {
      await updates.close()
      await sessionEvents.close()
      await reader.close()
      await Promise.allSettled([writer.quit(), readerConn.quit()])
    }
  }
}
