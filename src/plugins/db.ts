import fp from 'fastify-plugin'
import type { Database, Db } from '../db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Db
    database: Database
  }
}

/** Hands the opened database to every route; the app owns it from here and closes it last. */
export default fp<{ database: Database }>(async (app, { database }) => {
  app.decorate('database', database)
  app.decorate('db', database.db)
  app.addHook('onClose', async () => { await database.close() })
}, { name: 'db' })
