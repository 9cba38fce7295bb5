/**
 * `@hocuspocus/server` as a benchmark target: defaults, in memory (no persistence extension), no
 * authentication hook (every token is accepted). Prints `{"msg":"listening","url":…}` on stdout.
 * `tsx tools/bench/hocuspocus-server.ts [--port P] [--host H]`
 */
import { parseArgs } from 'node:util'
import { Server } from '@hocuspocus/server'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } })

const server = new Server({ port: Number(values.port), address: values.host, quiet: true, stopOnSignals: true })
await server.listen()
console.log(JSON.stringify({ msg: 'listening', url: `http://${values.host}:${server.address.port}` }))
