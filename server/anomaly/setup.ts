import type { ServerConfig } from '../config.js'
import type { Logger } from '../observe/logger.js'
import type { Identity } from '../identity/identity.js'
import type { SessionStore } from '../storage/session-store.js'
import type { SessionEventBus } from '../cluster/session-event-bus.js'
import { AnomalyDetector } from './detector.js'
import { SecurityAlerts } from './alerts.js'
import { loadGeoip, type Locate } from './geo.js'
import { parsePolicy } from './policy.js'

/**
 * Anomaly detection on identity's security log and session uses, with alerts on the user's devices
 * (delivered through `events` on every node).
 * `locate` replaces the `--geoip` database (tests, embedders with their own).
 */
export const setupAnomaly = async (config: ServerConfig, store: SessionStore, identity: Identity, events: SessionEventBus, logger: Logger, locate?: Locate) => {
  const where = locate ?? (config.geoip ? await loadGeoip() : undefined)
  const alerts = new SecurityAlerts(store, identity, events)
  const detector = new AnomalyDetector(store, identity.securityLog, parsePolicy(config.anomalyPolicy), {
    requireStepUp: id => identity.requireStepUpFor(id),
    revoke: (id, reason) => identity.revokeById(id, reason)
  }, alerts.announce, logger, where)
  identity.securityLog.onEvent(detector.onEvent)
  identity.onSessionUse = detector.onSessionUse
  return { detector, alerts }
}
