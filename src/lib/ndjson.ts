import type { FastifyRequest } from 'fastify'
import { ProblemError } from './problems.js'
import { unusableJson } from './validation.js'

/** A line of an NDJSON body that is not usable JSON; it becomes a rejected item, not a failed batch. */
export class UnparsableItem {
  constructor (readonly message: string) {}
}

export const NDJSON_TYPE = 'application/x-ndjson'

const NEWLINE = 0x0a

/** One NDJSON line as an item: parsed, checked, or an UnparsableItem saying why not. */
function itemOf (line: Buffer, number: number): unknown {
  let item: unknown
  try {
    item = JSON.parse(line.toString('utf8'))
  } catch {
    return new UnparsableItem(`line ${number} is not valid JSON`)
  }
  const unusable = unusableJson(item)
  return unusable === null ? item : new UnparsableItem(`line ${number}: ${unusable}`)
}

/** Whether a line holds only spaces, tabs and line ends (looked at byte by byte: a long line is not copied). */
function isBlank (line: Buffer): boolean {
  for (const byte of line) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false
  return true
}

const tooLarge = (bodyLimit: number): ProblemError =>
  new ProblemError('payload_too_large', `The body exceeds ${bodyLimit} bytes; split it into smaller batches.`)

const tooMany = (maxItems: number): ProblemError =>
  new ProblemError('validation_failed', `A batch holds at most ${maxItems} items.`, { errors: [{ path: '/body', message: `must have at most ${maxItems} items` }] })

/**
 * A Fastify content-type parser for NDJSON (one JSON value per line, as partners export them). The body is
 * read as a stream and split line by line as it arrives: items are counted as they are read, so a body with
 * more than `maxItems` is refused before the rest of it is read or parsed, and the byte limit is enforced
 * here (Fastify leaves it to parsers that take the raw stream). Blank lines are skipped.
 */
export function ndjsonParser ({ maxItems, bodyLimit }: { maxItems: number, bodyLimit: number }) {
  return async (request: FastifyRequest, payload: NodeJS.ReadableStream): Promise<unknown[]> => {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > bodyLimit) throw tooLarge(bodyLimit)
    const items: unknown[] = []
    let received = 0
    let lineNumber = 0
    // The start of a line whose end has not arrived yet, in pieces: joined once, when its newline comes.
    let pieces: Buffer[] = []
    const take = (line: Buffer): void => {
      lineNumber++
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1)
      if (isBlank(line)) return
      if (items.length === maxItems) throw tooMany(maxItems)
      items.push(itemOf(line, lineNumber))
    }
    for await (const chunk of payload) {
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      received += data.length
      if (received > bodyLimit) throw tooLarge(bodyLimit)
      let newline = data.indexOf(NEWLINE)
      while (newline !== -1) {
        pieces.push(data.subarray(0, newline))
        take(pieces.length === 1 ? pieces[0] as Buffer : Buffer.concat(pieces))
        pieces = []
        data = data.subarray(newline + 1)
        newline = data.indexOf(NEWLINE)
      }
      if (data.length > 0) pieces.push(data)
    }
    take(Buffer.concat(pieces))
    return items
  }
}
