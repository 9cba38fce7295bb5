import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir } from '../helpers/server.js'

// `npm start` compiles the server (tsconfig.build.json → build/) and runs it with plain node.
const root = path.resolve(import.meta.dirname, '../..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const children: ChildServer[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

describe('the compiled server (what npm start runs)', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root })
  }, 120_000)

  it('finds the demo app of the repository from build/', async () => {
    const { DEFAULT_DEMO_DIST } = await import(pathToFileURL(path.join(root, 'build/server/http/demo.js')).href) as { DEFAULT_DEMO_DIST: string }
    expect(DEFAULT_DEMO_DIST).toBe(path.join(root, 'demo/dist'))
  })

  it('starts with identity on and answers', async () => {
    const server = await startChildServer(['--data-dir', await tempDir(), '--log-level', 'info'], {}, [path.join(root, 'build/server/main.js')])
    children.push(server)
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({ status: 'ok' })
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json() as { keys: unknown[] }
    expect(jwks.keys).toHaveLength(1)
  })
})
