import { randomUUID } from 'node:crypto'
import type { Logger } from '../observe/logger.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { DocUpdateBus } from './doc-update-bus.js'
import { LocalDocUpdateBus } from './local-doc-update-bus.js'
import { LocalOnlineCounts } from './local-online-counts.js'
import { LocalSessionEventBus } from './local-session-event-bus.js'
import { memoryLimiters } from './memory-limiters.js'
import { MemoryOnceCache } from './memory-once-cache.js'
import { MemoryChallengeStore } from './memory-challenge-store.js'
import type { SessionEventBus, SessionEventHandler } from './session-event-bus.js'
import type { SharedState } from './shared-state.js'

/** How long a command on the identity-state connection may wait for Redis's answer before it fails (and the state falls back to this node's). */
export const STATE_COMMAND_TIMEOUT_MS = 2000

export interface Buses {
  updates: DocUpdateBus
  sessionEvents: SessionEventBus
  /** Identity state all nodes share: used ids, rate-limit counters, online counts, passkey challenges. */
  state: SharedState
  /** After the rooms are unloaded: stop reading and close the connections. */
  close (): Promise<void>
}

export interface BusOptions {
  redisUrl: string
  prefix: string
  logger: Logger
  /** Applies session events (this node's and other nodes') here. */
  onSessionEvent: SessionEventHandler
  /** This node's sockets, for the online counts. */
  sockets: SessionSockets
  /** Another node rotated the signing keys: re-read them. */
  onKeysChanged?: () => void
  /** Session events may have been missed (Redis was away too long): re-check every live socket. */
  recheckSessions?: () => Promise<void>
}

/**
 * In-process buses and state without `redisUrl`; with it, Redis shared by every node on that Redis.
 * The Redis client is loaded only when it is used.
 */
export const openBuses = async (opts: BusOptions): Promise<Buses> => {
  if (!opts.redisUrl) {
    const updates = new LocalDocUpdateBus()
    const state: SharedState = { once: new MemoryOnceCache(), limiters: memoryLimiters, online: new LocalOnlineCounts(opts.sockets), challenges: new MemoryChallengeStore() }
    return { updates, sessionEvents: new LocalSessionEventBus(opts.onSessionEvent), state, close: () => updates.close() }
  }
  const [{ connectRedis }, { StreamReader }, { RedisDocUpdateBus }, { RedisSessionEventBus }, { RedisOnceCache }, { redisLimiters }, { RedisOnlineCounts }, { followKeyChanges }, { watchSessionStreamGaps }, { RedisChallengeStore }, { watchStalls }] = await Promise.all([
    import('./redis-connection.js'), import('./stream-reader.js'), import('./redis-doc-update-bus.js'), import('./redis-session-event-bus.js'),
    import('./redis-once-cache.js'), import('./redis-limiters.js'), import('./redis-online-counts.js'), import('./key-events.js'), import('./session-stream-gap.js'), import('./redis-challenge-store.js'),
    import('./redis-stall-watch.js')
  ])
  const nodeId = randomUUID()
  // Appends go out as one script call per turn (redis-doc-update-bus.ts): no pipelining needed. With
  // a command timeout and a stall watch, as the state connection below: on a Redis that stopped
  // answering, appends fail (the bus republishes when Redis is back) instead of waiting in memory.
  const writer = connectRedis(opts.redisUrl, 'sync-writer', opts.logger, { commandTimeout: STATE_COMMAND_TIMEOUT_MS })
  const readerConn = connectRedis(opts.redisUrl, 'sync-reader', opts.logger)
  const subscriber = connectRedis(opts.redisUrl, 'sync-wakeups', opts.logger)
  // Identity state on a connection of its own, with a command timeout and a stall watch: on a Redis
  // that stopped answering, a request waits at most STATE_COMMAND_TIMEOUT_MS per command, and only
  // until the watch has reopened the connection (then the state falls back at once).
  const stateConn = connectRedis(opts.redisUrl, 'sync-state', opts.logger, { commandTimeout: STATE_COMMAND_TIMEOUT_MS })
  const connections = [writer, readerConn, subscriber, stateConn]
  try {
    await Promise.all(connections.map(c => c.connect()))
  } catch (err) {
    for (const c of connections) c.disconnect()
    throw new Error(`Redis at --redis-url is not reachable: ${(err as Error).message}`, { cause: err })
  }
  const reader = new StreamReader(readerConn, subscriber, opts.logger, { channel: `${opts.prefix}wake:${nodeId}` })
  const busOpts = { prefix: opts.prefix, nodeId, logger: opts.logger }
  const updates = new RedisDocUpdateBus(writer, reader, busOpts)
  const sessionEvents = await RedisSessionEventBus.start(writer, reader, opts.onSessionEvent, busOpts)
  if (opts.recheckSessions) watchSessionStreamGaps(readerConn, writer, reader, sessionEvents.key, opts.recheckSessions, opts.logger)
  const onKeysChanged = opts.onKeysChanged
  if (onKeysChanged) await followKeyChanges(reader, writer, opts.prefix, onKeysChanged)
  const stopWatches = [watchStalls(stateConn, opts.logger), watchStalls(writer, opts.logger, undefined, 'Redis stopped answering: reconnecting; updates are stored, and published when it answers')]
  const online = new RedisOnlineCounts(stateConn, opts.sockets, busOpts)
  const state: SharedState = {
    once: new RedisOnceCache(stateConn, opts.prefix, opts.logger),
    limiters: redisLimiters(stateConn, opts.prefix),
    online,
    challenges: new RedisChallengeStore(stateConn, opts.prefix, opts.logger)
  }
  opts.logger.info({ node: nodeId, prefix: opts.prefix }, 'cluster mode: document updates, session events and identity state on Redis')
  return {
    updates,
    sessionEvents,
    state,
    async close () {
      await updates.close()
      await sessionEvents.close()
      await online.close()
      await reader.close()
      for (const stop of stopWatches) stop()
      await Promise.allSettled(connections.map(c => c.quit()))
    }
  }
}
