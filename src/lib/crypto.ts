import { createCipheriv, createDecipheriv, createHmac, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { randomBytesFromBlock } from './random.js'

export const sha256Hex = (value: string | Buffer): string => hash('sha256', value, 'hex')

/** A sub-key for one purpose, so the master key itself never signs or encrypts anything directly. */
export function deriveKey (master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `cohesion:${purpose}`, 32))
}

export function hmac (key: Buffer, value: string): Buffer {
  return createHmac('sha256', key).update(value).digest()
}

/** The HMAC as hex, written by the digest itself (no Buffer in between). */
export function hmacHex (key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex')
}

export function safeEqual (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

const FORMAT = 1

/**
 * AES-256-GCM with a random 96-bit nonce (or one derived from the plaintext and the additional data, for a
 * ciphertext that is the same each time: a nonce is then reused only for the very same message). The additional data binds a ciphertext to where it belongs
 * (city, object, field): moved anywhere else it no longer opens.
 * Layout: format byte | nonce (12) | tag (16) | ciphertext.
 */
export function seal (key: Buffer, plaintext: Buffer, additionalData: string, nonce: Buffer = randomBytesFromBlock(12)): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(Buffer.from(additionalData, 'utf8'))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([Buffer.from([FORMAT]), nonce, cipher.getAuthTag(), body])
}

/** Throws when the ciphertext was altered, moved, or sealed under another key. */
export function open (key: Buffer, sealed: Buffer, additionalData: string): Buffer {
  if (sealed.length < 29 || sealed[0] !== FORMAT) throw new Error('unsupported ciphertext')
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13))
  decipher.setAAD(Buffer.from(additionalData, 'utf8'))
  decipher.setAuthTag(sealed.subarray(13, 29))
  return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()])
}

export const API_KEY_PREFIX = 'coh_'

/** 192 random bits behind a recognisable prefix, so secret scanners and people can tell what leaked. */
export function generateApiKey (): { key: string, displayPrefix: string, secretHash: string } {
  const key = API_KEY_PREFIX + randomBytes(24).toString('base64url')
  return { key, displayPrefix: key.slice(0, 12), secretHash: sha256Hex(key) }
}
