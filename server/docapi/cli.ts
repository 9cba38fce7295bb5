import { loadConfig } from '../config.js'
import { createLogger } from '../observe/logger.js'
import { createMetrics } from '../observe/metrics.js'
import { openStorage } from '../app.js'
import { Failure } from '../errors.js'
import { ApiKeys, API_KEY_SCOPES } from './api-keys.js'

const USAGE = `Usage: npm run apikey -- <command> [server options]
  create --scope ${API_KEY_SCOPES.join(',')} [--name NAME]   prints the key once: store it in the app backend's secrets
  list                                          ids, names, scopes, creation, last use, revocation
  revoke --id ID
Server options (--data-dir, --store, --database-url) name the store. With --store level the server must
be stopped (LevelDB has one writer); with --store postgres it may run.`

/** `npm run apikey -- create|list|revoke …` on the configured store. Prints JSON to stdout. */
export const apiKeyCommand = async (argv: string[]): Promise<number> => {
  const [command, ...rest] = argv
  // This command's own options; everything else is a server option.
  const own: Record<string, string> = {}
  const serverArgs: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const m = /^--(scope|name|id)(?:=(.*))?$/.exec(rest[i]!)
    if (!m) { serverArgs.push(rest[i]!); continue }
    own[m[1]!] = m[2] ?? rest[++i] ?? ''
  }
  if (!command || !['create', 'list', 'revoke'].includes(command)) {
    console.error(USAGE)
    return 2
  }
  const config = loadConfig(serverArgs)
  const logger = createLogger('warn')
  const storage = await openStorage(config, logger, createMetrics())
  try {
    const keys = new ApiKeys(storage.sessions)
    if (command === 'create') {
      const scopes = String(own.scope ?? '').split(',').map(s => s.trim()).filter(Boolean)
      const { record, key } = await keys.create(String(own.name ?? 'api key'), scopes)
      console.log(JSON.stringify({ id: record.id, name: record.name, scopes: record.scopes, key }))
    } else if (command === 'list') {
      for (const k of await keys.list()) {
        console.log(JSON.stringify({ id: k.id, name: k.name, scopes: k.scopes, createdAt: k.createdAt, revokedAt: k.revokedAt }))
      }
    } else {
      const revoked = await keys.revoke(String(own.id ?? ''))
      console.log(JSON.stringify({ revoked }))
      if (!revoked) return 1
    }
    return 0
  } catch (err) {
    if (!(err instanceof Failure)) throw err
    console.error(`error: ${err.message}`)
    return 2
  } finally {
    await storage.close()
  }
}
