/**
 * The end-of-run check: every edit any device of a user made must be on every device of that user
 * (and on the server), and all of them must hold the same set. Works on edit ids so that it can
 * judge light devices (which track ids) and full devices (which derive ids from their Y.Doc) alike.
 */
export interface DeviceView { deviceId: string, userId: string, editIds: ReadonlySet<string> }

export interface ConvergenceReport {
  users: number
  devices: number
  editsMade: number
  /** Edits made by some device that the authoritative state (server) lacks. */
  lostEdits: number
  /**
   * Users whose server state could not be read (the verifier device did not sync in time): their
   * edits are neither counted lost nor proven kept, and the run fails all the same.
   */
  unreadableUsers: number
  /** Devices whose set differs from their user's full set. */
  divergedDevices: number
  /** A few examples for the report. */
  examples: string[]
}

/** `server`: each user's edit ids as a fresh device read them from the server, or null when it could not. */
export const checkConvergence = (made: Map<string, Set<string>>, devices: DeviceView[], server: Map<string, ReadonlySet<string> | null>): ConvergenceReport => {
  const examples: string[] = []
  let lostEdits = 0
  let editsMade = 0
  let unreadableUsers = 0
  for (const [userId, edits] of made) {
    editsMade += edits.size
    const held = server.get(userId)
    if (held === null || held === undefined) {
      unreadableUsers++
      if (examples.length < 5) examples.push(`server state of user ${userId} unreadable (${edits.size} edits unchecked)`)
      continue
    }
    for (const id of edits) {
      if (!held.has(id)) {
        lostEdits++
        if (examples.length < 5) examples.push(`lost ${id} (user ${userId})`)
      }
    }
  }
  let divergedDevices = 0
  for (const d of devices) {
    const expected = made.get(d.userId) ?? new Set<string>()
    let ok = d.editIds.size === expected.size
    if (ok) for (const id of expected) if (!d.editIds.has(id)) { ok = false; break }
    if (!ok) {
      divergedDevices++
      if (examples.length < 10) examples.push(`device ${d.deviceId} holds ${d.editIds.size}/${expected.size} edits`)
    }
  }
  return { users: made.size, devices: devices.length, editsMade, lostEdits, unreadableUsers, divergedDevices, examples }
}
