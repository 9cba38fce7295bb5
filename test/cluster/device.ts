import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair } from 'jose'
import { TestDevice } from '../helpers/identity.js'
import { PUBLIC_URL } from './nodes.js'

/**
 * A device talking to whichever node `baseUrl` names, behind one public origin: its DPoP proofs name
 * PUBLIC_URL, as a device behind a load balancer does. Point `baseUrl` at another node to switch.
 */
export class ClusterDevice extends TestDevice {
  override proof (method: string, path: string, over: Parameters<TestDevice['proof']>[2] = {}): Promise<string> {
    return super.proof(method, path, { htu: PUBLIC_URL + path, ...over })
  }

  static async make (baseUrl: string, email = `u-${randomUUID().slice(0, 8)}@example.com`, name?: string): Promise<ClusterDevice> {
    const d = new ClusterDevice(baseUrl, email, name)
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    d.key = { privateKey, jwk: await exportJWK(publicKey) }
    return d
  }

  /** Registers and signs in a fresh user through `baseUrl`. */
  static async signedIn (baseUrl: string, name?: string): Promise<ClusterDevice> {
    const d = await ClusterDevice.make(baseUrl, undefined, name)
    const r = await d.register()
    if (r.status !== 201) throw new Error(`register ${r.status} ${JSON.stringify(r.body)}`)
    const l = await d.login()
    if (l.status !== 200) throw new Error(`login ${l.status} ${JSON.stringify(l.body)}`)
    return d
  }

  /** Another device of the same user, signed in through `baseUrl`. */
  async another (baseUrl: string, name = 'second'): Promise<ClusterDevice> {
    const d = await ClusterDevice.make(baseUrl, this.email, name)
    const l = await d.login()
    if (l.status !== 200) throw new Error(`login ${l.status} ${JSON.stringify(l.body)}`)
    return d
  }
}
