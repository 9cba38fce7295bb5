import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensureDemoBuilt } from '../../demo/build.js'

/**
 * One temp root per test run: every server data dir and device profile of the run lives below it and
 * is removed at the end (tests restart servers on the same dir, so they cannot delete their own).
 * Test workers inherit the variable.
 */
export default function setup (): () => void {
  // Once, before any worker: the browser tests and the compiled-server test serve demo/dist, and two
  // files building it at the same time would write over each other.
  ensureDemoBuilt({ quiet: true })
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'session-sync-tests-'))
  process.env.SYNC_TEST_TMP = root
  return () => fs.rmSync(root, { recursive: true, force: true })
}
