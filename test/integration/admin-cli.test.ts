import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { adminCall } from '../helpers/admin.js'
import { signedInDevice, TestDevice } from '../helpers/identity.js'
import { startServer, tempDir } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '../..')
/** `npm run admin -- …`: the source CLI under tsx. */
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', path.join(root, 'server/main.ts'), 'admin', ...args], { cwd: root })

describe('npm run admin -- grant|revoke <email>', () => {
  const servers: Array<Awaited<ReturnType<typeof startServer>>> = []
  afterEach(async () => { for (const s of servers.splice(0)) await s.close() })
  const start = async (overrides: Parameters<typeof startServer>[0]) => { const s = await startServer({ insecureNoAuth: false, ...overrides }); servers.push(s); return s }
  const pg = useTestDatabase()

  it('grants and revokes the role on a LevelDB data dir (server stopped: one process owns it)', async () => {
    const dataDir = await tempDir()
    let app = await start({ dataDir })
    const user = await signedInDevice(app.url)
    expect((await adminCall(user, 'GET', '/admin/users')).status).toBe(403)
    await expect(cli('grant', user.email, '--data-dir', dataDir)).rejects.toThrow(/is open in a running server: stop it first/)
    await servers.pop()!.close()
    const granted = await cli('grant', user.email.toUpperCase(), '--data-dir', dataDir)
    expect(JSON.parse(granted.stdout)).toEqual({ userId: user.tokens.userId, email: user.email, admin: true })
    app = await start({ dataDir })
    const d = await TestDevice.create(app.url, user.email)
    await d.login()
    expect((await adminCall(d, 'GET', '/admin/users')).status).toBe(200)
    await servers.pop()!.close()
    await cli('revoke', user.email, '--data-dir', dataDir)
    app = await start({ dataDir })
    const again = await TestDevice.create(app.url, user.email)
    await again.login()
    expect((await adminCall(again, 'GET', '/admin/users')).status).toBe(403)
    await servers.pop()!.close()
    await expect(cli('grant', 'nobody@example.com', '--data-dir', dataDir)).rejects.toThrow(/error: no account with the email nobody@example.com/)
    await expect(cli('promote', user.email, '--data-dir', dataDir)).rejects.toThrow(/usage: npm run admin/)
  }, 180_000)

  it('works on PostgreSQL while the server runs; the role applies to the next request', async () => {
    const app = await start({ store: 'postgres', databaseUrl: pg.url })
    const user = await signedInDevice(app.url)
    expect((await adminCall(user, 'GET', '/admin/users')).status).toBe(403)
    await cli('grant', user.email, '--store', 'postgres', '--database-url', pg.url)
    expect((await adminCall(user, 'GET', '/admin/users')).status).toBe(200)
  })
})
