import type { SessionEvent, SessionEventBus, SessionEventHandler } from './session-event-bus.js'

/** One process: publishing applies the event here and nowhere else. */
export class LocalSessionEventBus implements SessionEventBus {
  constructor (private readonly handle: SessionEventHandler) {}
  async publish (event: SessionEvent): Promise<void> { await this.handle(event) }
  async close (): Promise<void> {}
}
