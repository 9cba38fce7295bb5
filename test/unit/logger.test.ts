import { describe, expect, it } from 'vitest'
import { Writable } from 'node:stream'
import { createLogger } from '../../server/observe/logger.js'

describe('logger', () => {
  it('redacts secret-looking fields as a second line of defence', async () => {
    const lines: string[] = []
    const sink = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    const log = createLogger('info', sink)
    log.info({ token: 'SECRET1', password: 'SECRET2', body: { refreshToken: 'SECRET3' }, req: { headers: { authorization: 'Bearer SECRET4' } } }, 'x')
    await new Promise(r => setImmediate(r))
    const out = lines.join('')
    expect(out).toContain('[redacted]')
    for (const s of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4']) expect(out).not.toContain(s)
  })
})
