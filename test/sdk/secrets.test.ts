import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { format, inspect } from 'node:util'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiRequestError, NetworkError, type FetchLike, type WebSocketCtor } from '../../client/index.js'
import { fixture, identityServer, newEmail, PASSWORD } from './helpers.js'

// Tokens, refresh tokens, DPoP proofs and passwords never show in what a client writes or throws:
// console output, error messages, `String(err)`, inspected errors (with their causes), or URLs
// (which proxies and browsers log).
const f = fixture()
afterEach(() => f.cleanup())

/** Everything the SDK sent or received that must stay secret, harvested at the transport. */
const secrets = new Set<string>()
const addSecret = (v: unknown) => { if (typeof v === 'string' && v.length >= 8) secrets.add(v) }
const harvestJson = (text: string) => {
  try {
    const j = JSON.parse(text) as Record<string, unknown>
    for (const k of ['accessToken', 'refreshToken', 'mfaToken', 'password', 'current', 'next']) addSecret(j?.[k])
  } catch { /* not JSON */ }
}
const recordingFetch: FetchLike = async (input, init) => {
  const headers = (init.headers ?? {}) as Record<string, string>
  addSecret(headers.authorization?.replace(/^Bearer /, ''))
  addSecret(headers.dpop)
  if (typeof init.body === 'string') harvestJson(init.body)
  const res = await globalThis.fetch(input, init)
  harvestJson(await res.clone().text())
  return res
}

/** What would end up in a log: every console line, error texts, the URLs sockets were opened with. */
const logged: string[] = []
const recordingWebSocket = class extends WebSocket {
  constructor (url: string, protocols?: string | string[]) {
    logged.push(`ws url ${url}`)
    super(url, protocols)
  }
} as unknown as WebSocketCtor
const recordError = (err: unknown) => { logged.push(String(err), (err as Error)?.message ?? '', inspect(err, { depth: 5 })) }

const captureConsole = () => {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const
  const saved = methods.map(m => [m, console[m]] as const)
  for (const m of methods) console[m] = (...args: unknown[]) => { logged.push(format(...args)) }
  return () => { for (const [m, fn] of saved) console[m] = fn }
}

/**
 * A leak is the whole secret or any 8-character piece of it (error messages that quote a snippet of
 * their input, like JSON.parse's, carry parts of a token).
 */
const leaks = (): string[] => {
  const found: string[] = []
  for (const s of secrets) {
    for (let i = 0; i + 8 <= s.length; i++) {
      const piece = s.slice(i, i + 8)
      const line = logged.find(l => l.includes(piece))
      if (line) { found.push(`${piece} (of a ${s.length}-char secret) in: ${line.slice(0, 300)}`); break }
    }
  }
  return found
}

describe('sdk secrets', () => {
  it('no token, proof or password appears in console output, errors or socket URLs', async () => {
    secrets.clear(); logged.length = 0
    const restoreConsole = captureConsole()
    try {
      const s = await identityServer(f)
      const opts = { fetch: recordingFetch, WebSocket: recordingWebSocket }
      const email = newEmail('secrets')
      // Login and live sync.
      const profileDir = await f.profileDir()
      const a = await f.client(s, { ...opts, profileDir })
      await a.register(email, PASSWORD)
      await a.login(email, PASSWORD)
      const errorsA: unknown[] = []
      const da = await a.openDoc(a.sessionDoc!)
      da.on('error', e => errorsA.push(e))
      da.doc.getText('t').insert(0, 'hello')
      await da.whenSynced()
      // A refresh (rotation), renewed on the live socket in-band.
      const before = a.auth.current!.accessToken
      await a.auth.refresh(before)
      expect(a.auth.current!.accessToken).not.toBe(before)

      // A refused refresh: the profile's tokens copied to another device key (DPoP-bound).
      const stolenDir = await f.profileDir()
      await fs.mkdir(stolenDir, { recursive: true })
      await fs.copyFile(path.join(profileDir, 'tokens.json'), path.join(stolenDir, 'tokens.json'))
      const thief = await f.client(s, { ...opts, profileDir: stolenDir })
      const refused = await thief.auth.refresh(thief.auth.current!.accessToken).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(ApiRequestError)
      expect((refused as ApiRequestError).code).toBe('invalid_dpop_proof')
      recordError(refused)

      // A socket refused on upgrade: a document this user may not open.
      const denied = await a.openDoc('draft:not-mine')
      const deniedErr = new Promise<unknown>(resolve => denied.on('error', resolve))
      recordError(await deniedErr)

      // A socket refused on upgrade because the session was revoked elsewhere: refresh refused too.
      const b = await f.client(s, opts)
      await b.login(email, PASSWORD)
      const sessionA = a.auth.sessionId!
      await da.close()
      await denied.close()
      await b.api.revokeSession(sessionA)
      const ended = new Promise<unknown>(resolve => a.on('sessionEnded', resolve))
      const again = await a.openDoc(a.sessionDoc!)
      again.on('error', e => errorsA.push(e))
      recordError(await ended)
      recordError(await a.auth.accessToken().catch((e: unknown) => e))
      recordError(await a.api.listSessions().catch((e: unknown) => e))
      for (const e of errorsA) recordError(e)

      // A profile whose token file got corrupted: its tokens are quoted nowhere.
      const corruptDir = await f.profileDir()
      await fs.mkdir(corruptDir, { recursive: true })
      const tokensText = await fs.readFile(path.join(stolenDir, 'tokens.json'), 'utf8')
      await fs.writeFile(path.join(corruptDir, 'tokens.json'), tokensText.replace('"refreshToken":"', '"refreshToken":X"'))
      const corrupt = await f.client(s, { ...opts, profileDir: corruptDir }).catch((e: unknown) => e)
      expect(corrupt).toBeInstanceOf(Error)
      recordError(corrupt)

      // Network failures carry their cause: it holds no secret either.
      const offline = await f.client('http://127.0.0.1:1', { ...opts, profileDir: stolenDir })
      const netErr = await offline.api.listSessions().catch((e: unknown) => e)
      expect(netErr).toBeInstanceOf(NetworkError)
      recordError(netErr)
    } finally {
      restoreConsole()
    }
    expect(secrets.size).toBeGreaterThan(5)
    expect(logged.some(l => l.startsWith('ws url '))).toBe(true)
    expect(leaks()).toEqual([])
  })

  it('an error body quoting the request (a proxy, a debug server) is redacted', async () => {
    secrets.clear(); logged.length = 0
    // Answers every request with an error that echoes its headers and body.
    const echo = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'invalid_request', message: `bad request: ${req.headers.authorization ?? ''} ${req.headers.dpop ?? ''} ${body}` }))
      })
    })
    await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(echo.address() as { port: number }).port}`
      const c = await f.client(url, { fetch: recordingFetch })
      const loginErr = await c.login('someone@example.com', 'Tr0ub4dor&3-x9q7z-kw').catch((e: unknown) => e)
      expect(loginErr).toBeInstanceOf(ApiRequestError)
      expect((loginErr as Error).message).toContain('bad request')
      recordError(loginErr)
      const authed = await c.api.request('GET', '/sessions', { token: 'an-access-token-value' }).catch((e: unknown) => e)
      recordError(authed)
      addSecret('an-access-token-value')
      const refreshErr = await c.api.refresh({ refreshToken: 'a-refresh-token-value' }, 'a-dpop-proof-value').catch((e: unknown) => e)
      recordError(refreshErr)
      // The password, the login's proof, the access token, the refresh token and its proof.
      expect(secrets.size).toBe(5)
      expect(leaks()).toEqual([])
    } finally {
      await new Promise(resolve => echo.close(resolve))
    }
  })
})
