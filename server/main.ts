import { loadConfig, usage, ConfigError } from './config.js'
import { createApp, openStorage } from './app.js'
import { setAdmin } from './admin/grant.js'
import { createLogger } from './observe/logger.js'
import { createMetrics } from './observe/metrics.js'
import { rotateSigningKeys } from './identity/rotate-cli.js'

/** CLI entry point: `npm start -- --port 4321 --data-dir ./data`. */
const main = async () => {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(usage())
    return
  }
  if (process.argv[2] === 'keys:rotate') {
    // Adds a signing key; old keys verify until their tokens have expired.
    const config = loadConfig(process.argv.slice(3))
    console.log(JSON.stringify(await rotateSigningKeys(config)))
    return
  }
  if (process.argv[2] === 'apikey') {
    const { apiKeyCommand } = await import('./docapi/cli.js')
    process.exitCode = await apiKeyCommand(process.argv.slice(3))
    return
  }
  if (process.argv[2] === 'admin') {
    // `admin grant|revoke <email> [options]`: on the configured store (stop a LevelDB server first: one process owns it).
    const [action, email] = process.argv.slice(3, 5)
    if ((action !== 'grant' && action !== 'revoke') || !email) throw new ConfigError('usage: npm run admin -- grant|revoke <email> [--store … --data-dir … --database-url …]')
    const config = loadConfig(process.argv.slice(5))
    const storage = await openStorage(config, createLogger('warn'), createMetrics()).catch((err: Error & { cause?: { code?: string } }) => {
      if (err.cause?.code === 'LEVEL_LOCKED') throw new Error(`the LevelDB store in ${config.dataDir} is open in a running server: stop it first`)
      throw err
    })
    try {
      console.log(JSON.stringify(await setAdmin(storage.sessions, email, action === 'grant')))
    } catch (err) {
      console.error(`error: ${(err as Error).message}`)
      process.exitCode = 1
    } finally {
      await storage.close()
    }
    return
  }
  const config = loadConfig()
  const app = await createApp(config)
  await app.listen()
  // A human-readable line next to the JSON logs (stderr, so stdout stays pure JSON for log shippers).
  process.stderr.write(`\n  session-sync is up: open ${app.url}/ for the demo app${config.insecureNoAuth ? ' (INSECURE: no authentication)' : ''}\n\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    app.logger.info({ signal }, 'shutting down')
    const force = setTimeout(() => { app.logger.error('shutdown timed out; exiting'); process.exit(1) }, config.shutdownTimeoutMs)
    force.unref()
    app.close().then(() => process.exit(0), (err: Error) => { app.logger.error({ err: err.message }, 'shutdown failed'); process.exit(1) })
  }
  process.on('SIGHUP', () => {
    app.identity?.reloadKeys().then(
      r => app.logger.info(r, 'signing keys reloaded'),
      (err: Error) => app.logger.error({ err: err.message }, 'signing key reload failed'))
  })
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch((err: Error) => {
  if (err instanceof ConfigError) {
    console.error(`error: ${err.message}\n\n${usage()}`)
    process.exit(2)
  }
  console.error(err)
  process.exit(1)
})
