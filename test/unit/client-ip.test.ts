import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../server/config.js'
import { proxyTrust } from '../../server/transport/client-ip.js'

describe('--trusted-proxies', () => {
  it('defaults to one hop behind --public-url and none without it', () => {
    expect(proxyTrust('', '')).toBeNull()
    const one = proxyTrust('', 'https://sync.example.com')!
    expect([one('10.0.0.1', 0), one('6.6.6.6', 1)]).toEqual([true, false])
  })

  it('a number trusts that many hops from the server, whatever their addresses; 0 trusts none', () => {
    const two = proxyTrust('2', 'https://sync.example.com')!
    expect([two('203.0.113.1', 0), two('203.0.113.2', 1), two('10.0.0.1', 2)]).toEqual([true, true, false])
    expect(proxyTrust('0', 'https://sync.example.com')).toBeNull()
  })

  it('a list trusts the hops whose addresses it names', () => {
    const list = proxyTrust('loopback, 10.0.0.0/8', '')!
    expect([list('127.0.0.1', 0), list('10.200.0.1', 1), list('192.0.2.1', 1)]).toEqual([true, true, false])
  })

  it('an entry that is neither a number, an address, a range nor a preset is a configuration error', () => {
    expect(() => loadConfig(['--trusted-proxies', 'proxy.example.com'], {})).toThrow(ConfigError)
    expect(() => loadConfig([], { SYNC_TRUSTED_PROXIES: '10.0.0.0/99' })).toThrow(/--trusted-proxies/)
    expect(loadConfig(['--trusted-proxies', '3'], {}).trustedProxies).toBe('3')
  })
})
