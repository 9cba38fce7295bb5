import net from 'node:net'

/**
 * A TCP relay that can be shut: `cut()` drops every relayed connection and refuses new ones (closing
 * them at once) until `restore()`. In front of Redis it makes one node lose its connection while
 * the others keep theirs.
 */
export class TcpGate {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private open = true

  private constructor (private readonly target: { host: string, port: number }) {
    this.server = net.createServer(client => this.relay(client))
  }

  static async start (target: { host: string, port: number }): Promise<TcpGate> {
    const gate = new TcpGate(target)
    await new Promise<void>(resolve => gate.server.listen(0, '127.0.0.1', resolve))
    return gate
  }

  get port (): number { return (this.server.address() as net.AddressInfo).port }

  /** Connections relayed now. */
  get connections (): number { return this.sockets.size / 2 }

  cut (): void {
    this.open = false
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  restore (): void { this.open = true }

  async close (): Promise<void> {
    this.cut()
    await new Promise(resolve => this.server.close(resolve))
  }

  private relay (client: net.Socket): void {
    if (!this.open) { client.destroy(); return }
    const upstream = net.connect(this.target.port, this.target.host)
    this.sockets.add(client).add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    client.on('close', drop).on('error', drop)
    upstream.on('close', drop).on('error', drop)
    client.pipe(upstream).pipe(client)
  }
}
