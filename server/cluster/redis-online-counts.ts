import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { OnlineCounts } from './online-counts.js'

/** A node that stops renewing its counts (crashed, cut off) has them expire after this long. */
export const NODE_TTL_MS = 30_000
/** Field of a node's hash that is always present: the hash of a live node with no sockets still exists. */
const ALIVE = '_'

/**
 * Open sockets per session, summed over the live nodes. Each node keeps a hash
 * `<prefix>online:<node>` (session → its sockets there), written on every change and renewed by a
 * heartbeat (PEXPIRE, a third of the ttl); the set `<prefix>nodes` lists the nodes. A node that dies
 * stops renewing: its hash expires and its sessions stop counting within NODE_TTL_MS. A hash found
 * missing (expired while this node was cut off, or Redis restarted) is written whole again.
 *
 * While Redis cannot be reached, `count` answers with this node's sockets only.
 */
export class RedisOnlineCounts implements OnlineCounts {
  private readonly timer: NodeJS.Timeout
  /** A write failed or the hash may be gone: write it whole at the next heartbeat. */
  private dirty = true
  private readonly key: string
  private readonly nodesKey: string
  private failing = false

  constructor (
    private readonly redis: Redis,
    private readonly sockets: SessionSockets,
    private readonly opts: { prefix: string, nodeId: string, logger: Logger, ttlMs?: number }
  ) {
    this.key = `${opts.prefix}online:${opts.nodeId}`
    this.nodesKey = `${opts.prefix}nodes`
    sockets.onCountChanged = (sid, n) => this.write(sid, n)
    redis.on('ready', () => { this.dirty = true; void this.heartbeat() })
    this.timer = setInterval(() => { void this.heartbeat() }, Math.max(10, Math.floor(this.ttl / 3)))
    this.timer.unref()
    void this.heartbeat()
  }

  private get ttl (): number { return this.opts.ttlMs ?? NODE_TTL_MS }

  private write (sessionId: string, n: number): void {
    if (this.redis.status !== 'ready') { this.dirty = true; return }
    const cmd = n > 0 ? this.redis.hset(this.key, sessionId, n) : this.redis.hdel(this.key, sessionId)
    cmd.catch(() => { this.dirty = true })
  }

  /** Renews this node's hash; writes it whole when it is dirty or found missing. */
  async heartbeat (): Promise<void> {
    if (this.redis.status !== 'ready') return
    try {
      if (this.dirty) {
        this.dirty = false
        const all: Array<string | number> = [ALIVE, 1]
        for (const [sid, n] of this.sockets.entries()) all.push(sid, n)
        await this.redis.multi().del(this.key).hset(this.key, ...all).pexpire(this.key, this.ttl).sadd(this.nodesKey, this.opts.nodeId).exec()
      } else {
        const res = await this.redis.multi().pexpire(this.key, this.ttl).sadd(this.nodesKey, this.opts.nodeId).exec()
        if (res?.[0]?.[1] === 0) { this.dirty = true; await this.heartbeat() }
      }
      this.failing = false
    } catch (err) {
      this.dirty = true
      if (!this.failing) this.opts.logger.error({ err: (err as Error).message }, 'could not renew this node\'s online counts on Redis')
      this.failing = true
    }
  }

  async count (sessionId: string): Promise<number> {
    try {
      if (this.redis.status !== 'ready') throw new Error(`connection ${this.redis.status}`)
      const nodes = await this.redis.smembers(this.nodesKey)
      const pipe = this.redis.pipeline()
      for (const node of nodes) pipe.hmget(`${this.opts.prefix}online:${node}`, ALIVE, sessionId)
      const replies = await pipe.exec() ?? []
      let sum = 0
      const gone: string[] = []
      replies.forEach(([err, value], i) => {
        if (err) throw err
        const [alive, n] = value as [string | null, string | null]
        if (alive === null) gone.push(nodes[i]!)
        else sum += Number(n ?? 0)
      })
      // Nodes whose hash expired are dead (a live one renews it, and writes it again if it vanished).
      if (gone.length > 0) await this.redis.srem(this.nodesKey, ...gone)
      return sum
    } catch {
      return this.sockets.count(sessionId)
    }
  }

  /** A node that stops cleanly takes its counts with it at once. */
  async close (): Promise<void> {
    clearInterval(this.timer)
    this.sockets.onCountChanged = () => {}
    if (this.redis.status !== 'ready') return
    await this.redis.multi().del(this.key).srem(this.nodesKey, this.opts.nodeId).exec().catch(() => {})
  }
}
