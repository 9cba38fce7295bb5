import type { Connection } from '../sync/connection.js'
import type { DocUpdateBus, DocUpdateSubscriber } from './doc-update-bus.js'

/** One process: a document has one room, and publishing hands the update straight to it. */
export class LocalDocUpdateBus implements DocUpdateBus {
  private readonly subscribers = new Map<string, DocUpdateSubscriber>()

  subscribe (doc: string, _from: string, subscriber: DocUpdateSubscriber): void { this.subscribers.set(doc, subscriber) }

  unsubscribe (doc: string, subscriber: DocUpdateSubscriber): void {
    if (this.subscribers.get(doc) === subscriber) this.subscribers.delete(doc)
  }

  publish (doc: string, update: Uint8Array, frame: Uint8Array, from: Connection | undefined): void {
    this.subscribers.get(doc)?.deliver(update, frame, from, '')
  }

  publishAwareness (): void {}

  seen (): string { return '' }

  async trim (): Promise<void> {}

  async close (): Promise<void> { this.subscribers.clear() }
}
