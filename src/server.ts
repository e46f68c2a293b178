import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { buildApp, loggerOptions } from './app.js'
import { bootstrapDemoCity } from './bootstrap.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase } from './db/client.js'
import { migrate } from './db/migrate.js'

/** Process entry: configuration, database, migrations, listen, and a graceful close on SIGTERM/SIGINT. */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  // Log lines are written asynchronously, off the request's path (lines that queue up go out together); what is
  // still queued is flushed when the process ends.
  const destination = pino.destination({ dest: 1, sync: false })
  const logger = pino(loggerOptions(config), destination)
  process.on('exit', () => { try { destination.flushSync() } catch { /* nothing left to write to */ } })
  const database = await openDatabase(config, logger)
  const app = await buildApp({ config, database }, logger)
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: app.log }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
    else app.log.info({ signal }, 'closing: finishing in-flight requests')
    await app.close()
  })
  await migrate(database, config.DATABASE_URL)
  if (config.BOOTSTRAP) {
    const demo = await bootstrapDemoCity(database.db)
    if (demo !== null) {
      // Printed to stdout, not logged: the one and only time this secret is shown.
      process.stdout.write(`\nCreated city "${demo.citySlug}" with an admin API key (shown only now):\n\n  ${demo.key}\n\n` +
        `Try: curl -H "Authorization: Bearer ${demo.key}" http://${config.HOST}:${config.PORT}/v1/city\n\n`)
    }
  }
  await app.listen({ port: config.PORT, host: config.HOST })
  app.log.info({ database: database.driver, docs: '/docs' }, 'cohesion is ready')
}

main().catch((err: unknown) => {
  process.stderr.write(`cohesion failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
