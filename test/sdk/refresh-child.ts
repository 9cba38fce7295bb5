/**
 * Child process for the cross-process refresh test: opens an existing profile, prints `ready`, and
 * on `go` (a line on stdin) refreshes as if its token had just been rejected; prints the outcome as JSON.
 * Usage: node --import tsx refresh-child.ts <url> <profileDir>
 */
import { createInterface } from 'node:readline'
import { createNodeClient } from '../../client/node.js'

const [url, profileDir] = process.argv.slice(2) as [string, string]
const client = await createNodeClient({ url, profileDir, device: { name: 'child', platform: 'node' } })
const events: string[] = []
client.on('sessionEnded', e => events.push(e.reason))
const rejected = client.auth.current!.accessToken
const lines = createInterface({ input: process.stdin })
const go = new Promise<void>(resolve => lines.on('line', l => { if (l === 'go') resolve() }))
process.stdout.write('ready\n')
await go
lines.close()
let token = ''
let error = ''
try { token = await client.auth.refresh(rejected) } catch (err) { error = String(err) }
const sessions = error ? 0 : (await client.api.listSessions()).sessions.length
await client.close()
process.stdout.write(JSON.stringify({ token, error, events, sessions }) + '\n')
