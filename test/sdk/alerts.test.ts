import { afterEach, describe, expect, it } from 'vitest'
import type { SecurityAlert } from '../../shared/api.js'
import { waitFor } from '../helpers/server.js'
import { PASSWORD, fixture, identityServer } from './helpers.js'

const f = fixture()
afterEach(() => f.cleanup())

/** fetch as seen from another network (one trusted proxy hop on the server). */
const fromNetwork = (ip: string): typeof fetch => (input, init) =>
  globalThis.fetch(input, { ...init, headers: { ...init?.headers as Record<string, string>, 'x-forwarded-for': ip } })

describe('SDK security alerts', () => {
  it("emits securityAlert on the user's other device live, and confirmAlert / signOutAlertSession answer it", async () => {
    const s = await identityServer(f, { trustedProxies: '1' })
    const home = await f.signedIn(s, { device: { name: 'laptop', platform: 'node' } })
    const alerts: SecurityAlert[] = []
    const resolved: string[] = []
    home.on('securityAlert', a => alerts.push(a))
    home.on('securityAlertResolved', r => resolved.push(`${r.id}:${r.resolution}`))
    const { handle } = await home.openSessionState()
    await waitFor(() => handle.provider.status === 'synced', undefined, 'the session document synced')

    const tv = await f.client(s, { fetch: fromNetwork('198.51.100.20'), device: { name: 'TV', platform: 'tv' } })
    await tv.login(home.email, PASSWORD)
    await waitFor(() => alerts.length === 1, undefined, 'the alert')
    expect(alerts[0]).toMatchObject({ signal: 'new_network', device: { name: 'TV', platform: 'tv' }, ip: '198.51.100.20' })
    expect((await home.securityAlerts()).map(a => a.id)).toEqual([alerts[0]!.id])

    await home.confirmAlert(alerts[0]!.id)
    await waitFor(() => resolved.length === 1, undefined, 'the resolution')
    expect(resolved).toEqual([`${alerts[0]!.id}:confirmed`])
    expect(await home.securityAlerts()).toEqual([])

    const second = await f.client(s, { fetch: fromNetwork('192.0.2.30'), device: { name: 'unknown', platform: 'web' } })
    await second.login(home.email, PASSWORD)
    await waitFor(() => alerts.length === 2, undefined, 'the second alert')
    const revoked = new Promise(resolve => second.on('revoked', resolve))
    await home.signOutAlertSession(alerts[1]!.id)
    await second.openDoc(second.sessionDoc!)
    await revoked
    expect(second.signedIn).toBe(false)
  })
})
