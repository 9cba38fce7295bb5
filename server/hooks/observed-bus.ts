import type { DocUpdateBus } from '../cluster/doc-update-bus.js'

/**
 * `bus` with every update this node accepts reported to `changed` (after the bus has it). Updates
 * accepted by other nodes are theirs to report, so each change is reported once in a cluster.
 */
export const observedBus = (bus: DocUpdateBus, changed: (doc: string) => void): DocUpdateBus => ({
  subscribe: (doc, from, subscriber) => bus.subscribe(doc, from, subscriber),
  unsubscribe: (doc, subscriber) => bus.unsubscribe(doc, subscriber),
  publish (doc, update, frame, from, key) {
    bus.publish(doc, update, frame, from, key)
    changed(doc)
  },
  seen: doc => bus.seen(doc),
  trim: (doc, upTo) => bus.trim(doc, upTo),
  publishAwareness: (doc, update) => bus.publishAwareness(doc, update),
  close: () => bus.close()
})
