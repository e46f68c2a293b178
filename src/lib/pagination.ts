import { deriveKey, hmac, open, safeEqual, seal } from './crypto.js'
import { ProblemError } from './problems.js'

/**
 * Opaque keyset cursors. A cursor carries the sort key of the last row it returned, sealed (AES-256-GCM) together
 * with the city and the list it belongs to: a tampered cursor, or one from another list or another city, is
 * refused rather than silently read, and what it holds (a change feed's transaction number, which counts every
 * city's writes) is not readable by whoever holds it. Cursors signed in the clear before are still read.
 */
export class CursorCodec {
  readonly #key: Buffer
  readonly #sealKey: Buffer

  constructor (key: Buffer) {
    this.#key = key
    this.#sealKey = deriveKey(key, 'cursor-seal')
  }

  encode (cityId: string, list: string, position: unknown[]): string {
    // The same position gives the same cursor: a feed that is up to date answers the cursor it was asked with.
    // Padded to a multiple of 64 bytes, so that its length does not tell how long the position is.
    const json = JSON.stringify(position)
    const plain = json.padEnd(Math.ceil((json.length + 1) / 64) * 64)
    return seal(this.#sealKey, Buffer.from(plain), `${cityId}\n${list}`, hmac(this.#key, `${cityId}\n${list}\n${plain}`).subarray(0, 12)).toString('base64url')
  }

  decode (cityId: string, list: string, cursor: string): unknown[] {
    const text = cursor.includes('.') ? this.#signed(cityId, list, cursor) : this.#sealed(cityId, list, cursor)
    let position: unknown
    try { position = JSON.parse(text ?? '') } catch { position = undefined }
    if (!Array.isArray(position)) throw invalidCursor()
    return position
  }

  #sealed (cityId: string, list: string, cursor: string): string | undefined {
    try {
      return open(this.#sealKey, Buffer.from(cursor, 'base64url'), `${cityId}\n${list}`).toString('utf8')
    } catch {
      throw invalidCursor()
    }
  }

  /** A cursor of the earlier, signed form: its position in base64url, a dot, and its signature. */
  #signed (cityId: string, list: string, cursor: string): string {
    const [payload, signature, extra] = cursor.split('.')
    if (payload === undefined || signature === undefined || extra !== undefined ||
      !safeEqual(Buffer.from(signature), Buffer.from(hmac(this.#key, `${cityId}\n${list}\n${payload}`).subarray(0, 18).toString('base64url')))) {
      throw invalidCursor()
    }
    return Buffer.from(payload, 'base64url').toString('utf8')
  }
}

const invalidCursor = (): ProblemError =>
  new ProblemError('invalid_cursor', 'The cursor is not one this list issued.', { errors: [{ path: '/query/cursor', message: 'is not valid for this list' }] })

/**
 * Takes one row more than the page to learn whether another page follows, and builds its cursor from the
 * last row shown.
 */
export function pageOf<T> (rows: T[], limit: number, positionOf: (row: T) => unknown[], encode: (position: unknown[]) => string): { data: T[], next_cursor: string | null } {
  if (rows.length <= limit) return { data: rows, next_cursor: null }
  const data = rows.slice(0, limit)
  return { data, next_cursor: encode(positionOf(data[data.length - 1] as T)) }
}

/** Where a change feed starts: before the first transaction and the lowest id. */
export const FEED_START: unknown[] = [0, '00000000-0000-0000-0000-000000000000']

export interface FeedPosition { changeXid: number, id: string }

/** Reads a change-feed cursor position: the writing transaction and the id of the last row seen. */
export function feedPosition (position: unknown[]): FeedPosition {
  const [changeXid, id] = position
  if (position.length !== 2 || !Number.isSafeInteger(changeXid) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ProblemError('invalid_cursor', 'The cursor is not one this list issued.')
  }
  return { changeXid: changeXid as number, id }
}

/**
 * A page of a change feed, which never ends: its last page carries a cursor too (of its last row, or the
 * position it was asked from), so a partner that is up to date keeps it and asks again later for what changed
 * since, instead of falling back on a timestamp that a long transaction could undercut.
 */
export function feedPageOf<T> (rows: T[], limit: number, positionOf: (row: T) => unknown[], encode: (position: unknown[]) => string, from: unknown[]): { data: T[], next_cursor: string } {
  const data = rows.slice(0, limit)
  const last = data[data.length - 1]
  return { data, next_cursor: encode(last === undefined ? from : positionOf(last)) }
}

/** Reads a cursor position made of a text sort key and the id that breaks its ties (a name, a day). */
export function textPosition (position: unknown[]): { key: string, id: string } {
  const [key, id] = position
  if (position.length !== 2 || typeof key !== 'string' || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ProblemError('invalid_cursor', 'The cursor is not one this list issued.')
  }
  return { key, id }
}

/** Reads a cursor position made of one UUID (lists ordered by their time-ordered id). */
export function uuidPosition (position: unknown[]): string {
  const [id] = position
  if (position.length !== 1 || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ProblemError('invalid_cursor', 'The cursor is not one this list issued.')
  }
  return id
}
