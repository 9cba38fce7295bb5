import type { DocUpdateBus } from '../cluster/doc-update-bus.js'

/**
 * `bus` with every update this node accepts reported to `changed` (after the bus has it). Updates
 * accepted by other nodes are theirs to report, so each change is reported once in a cluster.
 */
export const observedBus = (bus: DocUpdateBus, changed: (doc: string) => void): DocUpdateBus => ({
  position: doc => bus.position(doc),
  subscribe: (doc, from, subscriber) => bus.subscribe(doc, from, subscriber),
  unsubscribe: (doc, subscriber) => bus.unsubscribe(doc, subscriber),
  publish (doc, update, frame, from) {
    bus.publish(doc, update, frame, from)
    changed(doc)
  },
  close: () => bus.close()
})
