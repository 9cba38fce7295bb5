import net from 'node:net'

/**
 * A TCP proxy in front of PostgreSQL that can lose a statement's answer: armed with a command tag
 * (`INSERT`, `COMMIT`), it lets the next statement with that tag run and commit on the server, then
 * closes the connection instead of passing on its CommandComplete and ReadyForQuery. The client sees
 * a broken connection for work that is in fact durable, as after a network failure at that moment.
 */
export class CutProxy {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private armed: string | null = null
  /** Connections cut so far. */
  cuts = 0

  private constructor (private readonly target: { host: string, port: number }) {
    this.server = net.createServer(client => this.relay(client))
  }

  static async start (target: { host: string, port: number }): Promise<CutProxy> {
    const proxy = new CutProxy(target)
    await new Promise<void>(resolve => proxy.server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port (): number { return (this.server.address() as net.AddressInfo).port }

  /** Cut the connection that completes the next statement tagged `tag`. */
  arm (tag: string): void { this.armed = tag }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise(resolve => this.server.close(resolve))
  }

  private relay (client: net.Socket) {
    const upstream = net.connect(this.target.port, this.target.host)
    this.sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy() }
    client.on('close', drop).on('error', drop)
    upstream.on('close', drop).on('error', drop)
    client.pipe(upstream)
    // Server messages: a type byte and an int32 length that counts itself, then the body.
    let pending = Buffer.alloc(0)
    let holding = false
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      let forward = 0
      let at = 0
      while (pending.length - at >= 5) {
        const length = pending.readInt32BE(at + 1)
        if (pending.length - at < 1 + length) break
        const type = String.fromCharCode(pending[at]!)
        if (!holding && type === 'C' && this.armed !== null) {
          const tag = pending.toString('utf8', at + 5, at + length) // NUL-terminated
          if (tag.startsWith(this.armed)) { holding = true; this.armed = null }
        }
        at += 1 + length
        if (!holding) forward = at
        else if (type === 'Z') { // the statement's transaction has ended: it is committed
          client.write(pending.subarray(0, forward))
          this.cuts++
          drop()
          return
        }
      }
      client.write(pending.subarray(0, forward))
      pending = pending.subarray(forward)
    })
  }
}
