import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { buildApp, loggerOptions } from './app.js'
import { bootstrapDemoCity } from './bootstrap.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase } from './db/client.js'
import { migrate } from './db/migrate.js'
import { LOAD_SAMPLE_INTERVAL_MS } from './plugins/protection.js'

/** Log lines are written in blocks of about this size, or after LOG_FLUSH_MS, whichever comes first. */
const LOG_BLOCK_BYTES = 8 * 1024
const LOG_FLUSH_MS = 250

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
  // Log lines are gathered and written asynchronously in blocks, off the request's path: a write per request
  // line would cost a system call per request. Lines wait at most LOG_FLUSH_MS, and what is still gathered when
  // the process ends is written then.
  const destination = pino.destination({ dest: 1, sync: false, minLength: LOG_BLOCK_BYTES })
  const logger = pino(loggerOptions(config), destination)
  const flushing = setInterval(() => { try { destination.flush() } catch { /* closed while exiting */ } }, LOG_FLUSH_MS)
  flushing.unref()
  process.on('exit', () => { try { destination.flushSync() } catch { /* nothing left to write to */ } })
  const database = await openDatabase(config, logger)
  // Migrations (on the embedded database, seconds of blocking work) run before the app exists: the load
  // shedding measures the event loop from the app's start, and would take them for an overload.
  await migrate(database, config.DATABASE_URL)
  const demo = config.BOOTSTRAP ? await bootstrapDemoCity(database.db) : null
  const app = await buildApp({ config, database }, logger)
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: app.log }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
    else app.log.info({ signal }, 'closing: finishing in-flight requests')
    await app.close()
  })
  // Compiling every route's schemas at start blocks the event loop for a moment, and the load shedding, which
  // samples the loop's delay every interval, would take that for an overload and answer the first requests
  // 503. Listening starts once a sample of calm has replaced it.
  await app.ready()
  if (config.MAX_EVENT_LOOP_DELAY_MS > 0) await new Promise((resolve) => setTimeout(resolve, LOAD_SAMPLE_INTERVAL_MS * 1.5))
  if (demo !== null) {
    // Printed to stdout, not logged: the one and only time this secret is shown.
    process.stdout.write(`\nCreated city "${demo.citySlug}" with an admin API key (shown only now):\n\n  ${demo.key}\n\n` +
      `Try: curl -H "Authorization: Bearer ${demo.key}" http://${config.HOST}:${config.PORT}/v1/city\n\n`)
  }
  await app.listen({ port: config.PORT, host: config.HOST })
  app.log.info({ database: database.driver, docs: '/docs' }, 'cohesion is ready')
  destination.flush()
}

main().catch((err: unknown) => {
  process.stderr.write(`cohesion failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
