/** A tiny typed event emitter: no `node:events`, so it bundles for the browser unchanged. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(arg: never) => void>>()

  on<K extends keyof Events> (event: K, handler: (arg: Events[K]) => void): () => void {
    let set = this.handlers.get(event)
    if (!set) this.handlers.set(event, set = new Set())
    set.add(handler as (arg: never) => void)
    return () => this.off(event, handler)
  }

  once<K extends keyof Events> (event: K, handler: (arg: Events[K]) => void): () => void {
    const off = this.on(event, (arg) => { off(); handler(arg) })
    return off
  }

  off<K extends keyof Events> (event: K, handler: (arg: Events[K]) => void): void {
    this.handlers.get(event)?.delete(handler as (arg: never) => void)
  }

  protected emit<K extends keyof Events> (event: K, arg: Events[K]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) {
      // A throwing listener must not break the SDK's own state machine.
      try { (h as (a: Events[K]) => void)(arg) } catch (err) { console.error(`[sync-sdk] ${String(event)} listener threw`, err) }
    }
  }

  protected removeAllListeners (): void { this.handlers.clear() }
}
