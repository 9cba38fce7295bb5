/**
 * Steady load over the nodes of a test cluster with the load tool's own devices (tools/load), and the
 * end-of-run convergence check. `during` runs once, on the first progress tick of the measured phase
 * (edits are flowing): the place to kill a node or restart Redis or PostgreSQL.
 */
import { randomBytes } from 'node:crypto'
import { allDevices, closeFleet, createFleet, pool, type SimUser } from '../../tools/load/fleet.js'
import { runScenario, type ScenarioResult } from '../../tools/load/scenarios.js'
import { RunStats } from '../../tools/load/run-stats.js'
import { SimDevice } from '../../tools/load/device.js'
import type { ClusterNode } from './harness.js'

export interface ClusterLoad { result: ScenarioResult, stats: RunStats, users: SimUser[], close(): void }

export const steadyLoad = async (nodes: ClusterNode[], opts: { users?: number, devicesPerUser?: number, rate?: number, seconds?: number, during?: (stats: RunStats) => Promise<void> } = {}): Promise<ClusterLoad> => {
  const urls = nodes.map(n => n.url)
  const stats = new RunStats()
  const users = await createFleet({
    target: urls[0]!, urls, users: opts.users ?? 6, devicesPerUser: opts.devicesPerUser ?? 3, mode: 'light', auth: 'api',
    runId: randomBytes(4).toString('hex'), loginConcurrency: 4
  }, stats)
  let during: Promise<void> | undefined
  try {
    const result = await runScenario('steady', users, {
      seconds: opts.seconds ?? 3, rate: opts.rate ?? 10, offlineEdits: 0, history: 0, unloadWaitSeconds: 0, connectBatch: 50,
      deadline: Date.now() + 150_000,
      onProgress: () => { during ??= opts.during?.(stats) ?? Promise.resolve() }
    }, stats)
    await during
    return { result, stats, users, close: () => closeFleet(users) }
  } catch (err) {
    closeFleet(users)
    throw err
  }
}

/**
 * Every edit any device of each user made, checked against what a fresh full device reads through
 * `node` now: returns the edit ids it lacks (empty = nothing lost).
 */
export const missingOnServer = async (node: ClusterNode, users: SimUser[], stats: RunStats): Promise<string[]> => {
  const missing: string[] = []
  await pool(users, 4, async u => {
    const first = u.devices[0]!
    const verifier = new SimDevice({ ...first.opts, syncUrl: node.wsUrl, failoverUrls: [], deviceId: `${u.userId}.after`, mode: 'full', stats })
    try {
      await verifier.connect()
      const held = verifier.heldEditIds()
      for (const d of u.devices) for (const id of d.made) if (!held.has(id)) missing.push(id)
    } finally { verifier.disconnect() }
  })
  return missing
}

export { allDevices }
