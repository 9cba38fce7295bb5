import { randomUUID } from 'node:crypto'
import type { Logger } from '../observe/logger.js'
import type { ActivityRecord, SessionStore } from '../storage/session-store.js'
import { dayOf } from './days.js'
import { isHandoff } from './derive.js'

/** What the tracker reads of a socket: whose it is, and the updates it sent so far (counted by the socket). */
export interface ActivitySource {
  readonly principal: { readonly userId: string, readonly sessionId?: string }
  readonly edits: number
}

interface OpenSocket { record: ActivityRecord, flushedEdits: number, span: Span, writing: Promise<unknown> }
interface Span { sessionId: string, start: number, end: number }

/**
 * Each device-session socket's activity: stored when it opens, every `flush()` while open (its end
 * and edit count move), and when it closes. The edit path only bumps a number on the socket; the
 * count reaches the store here, never once per edit. Also feeds the live hand-off counter from this
 * node's sockets (`isHandoff`, the rule the stored figures use).
 */
export class SocketActivity {
  private readonly open = new Map<ActivitySource, OpenSocket>()
  /** Per user, this node's sockets open now or closed within the hand-off window. */
  private readonly recent = new Map<string, Span[]>()
  private readonly writes = new Set<Promise<unknown>>()
  private stopped = false

  constructor (
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly windowMs: number,
    private readonly onHandoff: () => void,
    private readonly now: () => number = Date.now
  ) {}

  get socketsOnline (): number { return this.open.size }

  get sessionsOnline (): number { return new Set([...this.open.values()].map(o => o.record.sessionId)).size }

  opened (c: ActivitySource): void {
    const sessionId = c.principal.sessionId
    if (!sessionId || this.open.has(c)) return
    const t = this.now()
    const userId = c.principal.userId
    const spans = (this.recent.get(userId) ?? []).filter(s => s.end >= t - this.windowMs)
    if (isHandoff(spans, spans.length, sessionId, t, this.windowMs)) this.onHandoff()
    const span = { sessionId, start: t, end: Infinity }
    spans.push(span)
    this.recent.set(userId, spans)
    const o: OpenSocket = { record: { id: randomUUID(), userId, sessionId, start: t, end: t, edits: 0 }, flushedEdits: 0, span, writing: Promise.resolve() }
    this.open.set(c, o)
    this.write(o, t, c.edits)
  }

  closed (c: ActivitySource): void {
    const o = this.open.get(c)
    if (!o) return
    this.open.delete(c)
    const t = this.now()
    o.span.end = t
    this.write(o, t, c.edits)
    const spans = this.recent.get(o.record.userId)?.filter(s => s.end >= t - this.windowMs)
    if (spans?.length) this.recent.set(o.record.userId, spans)
    else this.recent.delete(o.record.userId)
  }

  /** Stores every open socket's activity up to now; resolves when written. */
  async flush (): Promise<void> {
    const t = this.now()
    for (const [c, o] of this.open) this.write(o, t, c.edits)
    await this.settled()
  }

  /** Stores every open socket's activity one last time (shutdown); later events are not stored. */
  async stop (): Promise<void> {
    await this.flush()
    this.stopped = true
  }

  /** Resolves once every write started so far has finished. */
  async settled (): Promise<void> { await Promise.all([...this.writes]) }

  /** One socket's writes run in order, so an older end never replaces a newer one. Errors are logged. */
  private write (o: OpenSocket, t: number, edits: number): void {
    if (this.stopped) return
    const delta = edits - o.flushedEdits
    o.flushedEdits = edits
    const record = { ...o.record, end: t, edits }
    o.writing = o.writing.then(async () => {
      await this.store.putActivity(record)
      if (delta > 0) await this.store.addDailyCounts(dayOf(t), { edits: delta })
    }).catch((err: Error) => this.logger.error({ err: err.message, session: o.record.sessionId }, 'analytics: activity write failed'))
    const w = o.writing
    this.writes.add(w)
    void w.then(() => this.writes.delete(w))
  }
}
