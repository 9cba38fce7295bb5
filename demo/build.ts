/**
 * Builds the demo app into demo/dist when it is missing or stale. `npm start` runs this first (so a
 * fresh clone works with `npm ci && npm start`), and so do the browser tests.
 *
 * "Stale" is decided by content, not mtimes (a git checkout touches every file): a hash of every
 * input of the build (the demo's sources, the client SDK and shared code it bundles, the lockfile) is
 * stored in demo/dist/.build-hash by a successful build.
 */
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const root = path.resolve(import.meta.dirname, '..')
const demoDir = path.join(root, 'demo')
export const DEMO_DIST = path.join(demoDir, 'dist')
const STAMP = path.join(DEMO_DIST, '.build-hash')

const INPUTS = ['demo/index.html', 'demo/sw.js', 'demo/vite.config.ts', 'demo/build.ts', 'demo/src', 'demo/public', 'client', 'shared', 'package-lock.json']

const walk = (abs: string): string[] => {
  if (!fs.existsSync(abs)) return []
  const st = fs.statSync(abs)
  if (st.isFile()) return [abs]
  // Build outputs (client/dist, the SDK package's) are no input of the demo.
  return fs.readdirSync(abs).sort().flatMap(name => name === 'node_modules' || name === 'dist' || name.startsWith('.') ? [] : walk(path.join(abs, name)))
}

/** Hash of the build's inputs. */
export const demoInputsHash = (): string => {
  const h = createHash('sha256')
  for (const rel of INPUTS) {
    for (const file of walk(path.join(root, rel))) {
      h.update(path.relative(root, file))
      h.update('\0')
      h.update(fs.readFileSync(file))
      h.update('\0')
    }
  }
  return h.digest('hex')
}

export const demoIsFresh = (): boolean => {
  try {
    return fs.readFileSync(STAMP, 'utf8').trim() === demoInputsHash() && fs.existsSync(path.join(DEMO_DIST, 'index.html'))
  } catch { return false }
}

/** Build demo/dist unless it is up to date. Returns true when it built. */
export const ensureDemoBuilt = (opts: { force?: boolean, quiet?: boolean } = {}): boolean => {
  if (!opts.force && demoIsFresh()) return false
  const hash = demoInputsHash()
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js')
  if (!opts.quiet) console.log('building the demo app (demo/dist) …')
  const started = Date.now()
  const res = spawnSync(process.execPath, [vite, 'build', '--config', path.join(demoDir, 'vite.config.ts')], {
    cwd: root,
    stdio: opts.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
    // A production build whoever runs it: under vitest NODE_ENV is 'test', which would make Vite emit
    // a development build (import.meta.env.PROD false: no service worker).
    env: { ...process.env, NODE_ENV: 'production' }
  })
  if (res.status !== 0) {
    throw new Error(`demo build failed (exit ${res.status}):\n${res.stdout ?? ''}${res.stderr ?? ''}`)
  }
  fs.writeFileSync(STAMP, hash + '\n')
  if (!opts.quiet) console.log(`demo built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return true
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    ensureDemoBuilt({ force: process.argv.includes('--force') })
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
}
