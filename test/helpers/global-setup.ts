import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * One temp root per test run: every server data dir and device profile of the run lives below it and
 * is removed at the end (tests restart servers on the same dir, so they cannot delete their own).
 * Test workers inherit the variable.
 */
export default function setup (): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'session-sync-tests-'))
  process.env.SYNC_TEST_TMP = root
  return () => fs.rmSync(root, { recursive: true, force: true })
}
