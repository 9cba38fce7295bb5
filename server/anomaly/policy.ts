/** The anomaly signals (docs/identity.md, Anomaly detection). */
export const SIGNALS = ['new_device', 'new_network', 'concurrent_networks', 'impossible_travel', 'failed_login_burst', 'refresh_reuse', 'session_burst'] as const
export type SignalName = (typeof SIGNALS)[number]

/** What happens on a signal: the user is told (always), plus a step-up for, or the end of, the session. */
export const ACTIONS = ['notify', 'step_up', 'revoke'] as const
export type AnomalyAction = (typeof ACTIONS)[number]

export const DEFAULT_POLICY: Record<SignalName, AnomalyAction> = {
  new_device: 'notify',
  new_network: 'notify',
  concurrent_networks: 'step_up',
  impossible_travel: 'step_up',
  failed_login_burst: 'notify',
  // Identity has already ended the session the copied token belongs to.
  refresh_reuse: 'notify',
  session_burst: 'notify'
}

const STRENGTH: Record<AnomalyAction, number> = { notify: 0, step_up: 1, revoke: 2 }
export const strongest = (actions: AnomalyAction[]): AnomalyAction =>
  actions.reduce<AnomalyAction>((a, b) => (STRENGTH[b] > STRENGTH[a] ? b : a), 'notify')

/** `--anomaly-policy new_network=notify,impossible_travel=revoke`: unlisted signals keep their default. Throws on anything else. */
export const parsePolicy = (setting: string): Record<SignalName, AnomalyAction> => {
  const policy = { ...DEFAULT_POLICY }
  for (const entry of setting.split(',').map(e => e.trim()).filter(Boolean)) {
    const [signal, action] = entry.split('=').map(s => s.trim())
    if (!(SIGNALS as readonly string[]).includes(signal!)) throw new Error(`unknown signal "${signal}" (one of ${SIGNALS.join(', ')})`)
    if (!(ACTIONS as readonly string[]).includes(action!)) throw new Error(`unknown action "${action}" for ${signal} (one of ${ACTIONS.join(', ')})`)
    policy[signal as SignalName] = action as AnomalyAction
  }
  return policy
}
