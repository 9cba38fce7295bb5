import type { SessionEndedEvent, SessionEventBus, SessionEventHandler } from './session-event-bus.js'

/** One process: publishing applies the event here and nowhere else. */
export class LocalSessionEventBus implements SessionEventBus {
  constructor (private readonly handle: SessionEventHandler) {}
  publish (event: SessionEndedEvent): void { this.handle(event) }
  async close (): Promise<void> {}
}
