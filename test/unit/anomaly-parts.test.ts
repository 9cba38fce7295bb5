import { describe, expect, it } from 'vitest'
import { networkOf } from '../../server/anomaly/network.js'
import { parsePolicy, DEFAULT_POLICY, strongest } from '../../server/anomaly/policy.js'
import { distanceKm } from '../../server/anomaly/geo.js'
import { deviceFamily } from '../../server/anomaly/signals/new-device.js'
import { HookRunner, type DocumentChangeEvent } from '../../server/hooks/hooks.js'
import { createLogger } from '../../server/observe/logger.js'
import { loadConfig, ConfigError } from '../../server/config.js'

describe('anomaly building blocks', () => {
  it('networkOf: IPv4 /24, IPv6 /48 however written, IPv4-mapped IPv6 as IPv4', () => {
    expect(networkOf('203.0.113.7')).toBe('203.0.113.0/24')
    expect(networkOf('::ffff:203.0.113.99')).toBe('203.0.113.0/24')
    expect(networkOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48')
    expect(networkOf('2001:0db8:abcd:0012:0000:0000:0000:0001')).toBe('2001:db8:abcd::/48')
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48')
    expect(networkOf('::1')).toBe('0:0:0::/48')
    expect(networkOf(undefined)).toBe('unknown')
    expect(networkOf('not an address')).toBe('not an address')
  })

  it('policy: defaults, overrides, strongest action; bad settings refused at start', () => {
    expect(parsePolicy('')).toEqual(DEFAULT_POLICY)
    expect(parsePolicy('new_network=revoke, impossible_travel=notify')).toMatchObject({ new_network: 'revoke', impossible_travel: 'notify', new_device: 'notify' })
    expect(() => parsePolicy('new_netwrk=notify')).toThrow(/unknown signal/)
    expect(() => parsePolicy('new_network=ban')).toThrow(/unknown action/)
    expect(strongest(['notify', 'revoke', 'step_up'])).toBe('revoke')
    expect(() => loadConfig(['--anomaly-policy', 'x=y'], {})).toThrow(ConfigError)
    expect(() => loadConfig(['--webhook-url', 'https://example.com/hook', '--webhook-secret', 'short'], {})).toThrow(/16 characters/)
  })

  it('distance and device family', () => {
    expect(Math.round(distanceKm({ lat: 52.52, lon: 13.4 }, { lat: 48.86, lon: 2.35 }))).toBeGreaterThan(870)
    expect(Math.round(distanceKm({ lat: 52.52, lon: 13.4 }, { lat: 48.86, lon: 2.35 }))).toBeLessThan(890)
    expect(deviceFamily('Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0')).toBe(deviceFamily('Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0.1'))
    expect(deviceFamily('Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0')).not.toBe(deviceFamily('Mozilla/5.0 (SMART-TV; Tizen 6.0) TV'))
  })

  it('HookRunner: a document edited without pause still reports within 10 debounce windows', async () => {
    const got: DocumentChangeEvent[] = []
    const runner = new HookRunner({ onDocumentChange: e => { got.push(e) } }, [], createLogger('silent'), 20)
    const start = Date.now()
    // Bounded: an edit every 5 ms for at most 2 s; without the cap the report would wait for the pause.
    while (got.length === 0 && Date.now() - start < 2000) {
      runner.documentChanged('doc')
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    expect(got).toHaveLength(1)
    expect(got[0]!.updates).toBeGreaterThan(1)
    runner.flush()
  })
})
