import fp from 'fastify-plugin'
import { deriveKey } from '../lib/crypto.js'
import { CursorCodec } from '../lib/pagination.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs and checks list cursors. */
    cursors: CursorCodec
    /** Derives the key for one purpose from ENCRYPTION_KEY. */
    subkey: (purpose: string) => Buffer
  }
}

/** Every key the app uses is derived from ENCRYPTION_KEY, one per purpose. */
export default fp<{ encryptionKey: Buffer }>(async (app, { encryptionKey }) => {
  // Derived once per purpose: HKDF on every request would be work repeated for the same answer.
  const derived = new Map<string, Buffer>()
  app.decorate('subkey', (purpose: string) => {
    let key = derived.get(purpose)
    if (key === undefined) derived.set(purpose, key = deriveKey(encryptionKey, purpose))
    return key
  })
  app.decorate('cursors', new CursorCodec(deriveKey(encryptionKey, 'cursor')))
}, { name: 'keys' })
