import net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that can be switched off: `down()` cuts every open connection and
 * refuses new ones (as an unreachable server would), `up()` relays again. Clients see the server
 * vanish and come back without it restarting or changing port.
 */
export class SwitchProxy {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private isUp = true
  /** Connections accepted while up. */
  accepted = 0

  private constructor (private readonly target: { host: string, port: number }) {
    this.server = net.createServer(client => this.relay(client))
  }

  static async start (targetUrl: string): Promise<SwitchProxy> {
    const u = new URL(targetUrl)
    const proxy = new SwitchProxy({ host: u.hostname, port: Number(u.port) })
    await new Promise<void>(resolve => proxy.server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port (): number { return (this.server.address() as net.AddressInfo).port }
  get url (): string { return `http://127.0.0.1:${this.port}` }

  down (): void {
    this.isUp = false
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  up (): void { this.isUp = true }

  async close (): Promise<void> {
    this.down()
    await new Promise(resolve => this.server.close(resolve))
  }

  private relay (client: net.Socket) {
    if (!this.isUp) { client.destroy(); return }
    this.accepted++
    const upstream = net.connect(this.target.port, this.target.host)
    this.sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream) }
    client.on('close', drop).on('error', drop)
    upstream.on('close', drop).on('error', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  }
}
