import type { Logger } from '../observe/logger.js'

/** A document changed: one call per document per debounce window, after its last accepted update. */
export interface DocumentChangeEvent { documentName: string, updates: number, at: number }
export interface SessionStartEvent { userId: string, sessionId: string, ip?: string, at: number }
export interface SessionEndEvent { userId?: string, sessionId: string, reason: string, at: number }
/** A stored security event (server/identity/security-events.ts), anomaly score included. */
export interface SecurityHookEvent {
  id: string, at: number, kind: string, userId?: string, sessionId?: string, ip?: string
  reason?: string, score?: number, detail?: Record<string, string | number | boolean>
}

/**
 * Server-side hooks for embedders: `createApp(config, { hooks })`. Each runs after the fact and off
 * the edit path; what a hook throws (or rejects with) is logged and changes nothing.
 */
export interface ServerHooks {
  onDocumentChange?: (e: DocumentChangeEvent) => unknown
  onSessionStart?: (e: SessionStartEvent) => unknown
  onSessionEnd?: (e: SessionEndEvent) => unknown
  onSecurityEvent?: (e: SecurityHookEvent) => unknown
}

/** One outgoing notification: the webhook body's `type` and `data`. */
export type HookNotification =
  | { type: 'document.changed', data: DocumentChangeEvent }
  | { type: 'session.started', data: SessionStartEvent }
  | { type: 'session.ended', data: SessionEndEvent }
  | { type: 'security.event', data: SecurityHookEvent }

export const DEFAULT_DOC_CHANGE_DEBOUNCE_MS = 1000
const MAX_WAIT_WINDOWS = 10

/**
 * Calls the embedder's hooks and hands every notification to `sinks` (the webhook sender). Document
 * changes are debounced per document: the edit path only bumps a counter in a map.
 */
export class HookRunner {
  private readonly pending = new Map<string, { updates: number, timer: NodeJS.Timeout, since: number }>()

  constructor (
    private readonly hooks: ServerHooks,
    private readonly sinks: Array<(n: HookNotification) => void>,
    private readonly logger: Logger,
    private readonly debounceMs = DEFAULT_DOC_CHANGE_DEBOUNCE_MS
  ) {}

  /** Whether anything listens for document changes (otherwise the bus is not observed at all). */
  get wantsDocumentChanges (): boolean { return this.hooks.onDocumentChange !== undefined || this.sinks.length > 0 }

  documentChanged (documentName: string): void {
    const held = this.pending.get(documentName)
    if (held) {
      held.updates++
      // A document edited without pause still reports at least every MAX_WAIT_WINDOWS windows.
      if (Date.now() - held.since < this.debounceMs * MAX_WAIT_WINDOWS) held.timer.refresh()
      return
    }
    const timer = setTimeout(() => {
      const entry = this.pending.get(documentName)
      this.pending.delete(documentName)
      this.emit({ type: 'document.changed', data: { documentName, updates: entry?.updates ?? 1, at: Date.now() } }, this.hooks.onDocumentChange)
    }, this.debounceMs)
    timer.unref()
    this.pending.set(documentName, { updates: 1, timer, since: Date.now() })
  }

  sessionStarted (e: SessionStartEvent): void { this.emit({ type: 'session.started', data: e }, this.hooks.onSessionStart) }
  sessionEnded (e: SessionEndEvent): void { this.emit({ type: 'session.ended', data: e }, this.hooks.onSessionEnd) }
  securityEvent (e: SecurityHookEvent): void { this.emit({ type: 'security.event', data: e }, this.hooks.onSecurityEvent) }

  /** Delivers the document changes still waiting for their window (shutdown). */
  flush (): void {
    for (const [name, entry] of [...this.pending]) {
      clearTimeout(entry.timer)
      this.pending.delete(name)
      this.emit({ type: 'document.changed', data: { documentName: name, updates: entry.updates, at: Date.now() } }, this.hooks.onDocumentChange)
    }
  }

  private emit<E> (n: HookNotification, hook: ((e: E) => unknown) | undefined): void {
    for (const sink of this.sinks) {
      try { sink(n) } catch (err) { this.logger.error({ hook: n.type, err: (err as Error).message }, 'hook sink failed') }
    }
    if (!hook) return
    try {
      const r = hook(n.data as E)
      if (r instanceof Promise) r.catch((err: unknown) => this.logger.error({ hook: n.type, err: (err as Error)?.message }, 'hook failed'))
    } catch (err) {
      this.logger.error({ hook: n.type, err: (err as Error).message }, 'hook failed')
    }
  }
}
