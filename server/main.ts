import { loadConfig, usage, ConfigError } from './config.js'
import { createApp } from './app.js'
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
