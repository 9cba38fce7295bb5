/**
 * Child process for the cross-process refresh test: opens an existing profile, waits until the
 * agreed instant, refreshes as if its token had just been rejected, prints the outcome as JSON.
 * Usage: node --import tsx refresh-child.ts <url> <profileDir> <startAtMs>
 */
import { createNodeClient } from '../../client/node.js'

const [url, profileDir, startAt] = process.argv.slice(2) as [string, string, string]
const client = await createNodeClient({ url, profileDir, device: { name: 'child', platform: 'node' } })
const events: string[] = []
client.on('sessionEnded', e => events.push(e.reason))
const rejected = client.auth.current!.accessToken
await new Promise(r => setTimeout(r, Math.max(0, Number(startAt) - Date.now())))
let token = ''
let error = ''
try { token = await client.auth.refresh(rejected) } catch (err) { error = String(err) }
const sessions = error ? 0 : (await client.api.listSessions()).sessions.length
await client.close()
process.stdout.write(JSON.stringify({ token, error, events, sessions }) + '\n')
