import { randomFillSync } from 'node:crypto'

/**
 * Random bytes from the system's CSPRNG, fetched in blocks. Asking the kernel for every 12-byte nonce, 32-byte
 * key and UUID separately cost about 5 µs a call here, three to five calls for each imported report; a block
 * of 16 KiB serves hundreds of them. Every byte is handed out once, as a copy, so nothing returned changes when
 * the block is refilled.
 */
const BLOCK = 16 * 1024
const block = Buffer.alloc(BLOCK)
let offset = BLOCK

export function randomBytesFromBlock (size: number): Buffer {
  if (size > BLOCK) throw new RangeError(`at most ${BLOCK} random bytes at a time`)
  if (offset + size > BLOCK) {
    randomFillSync(block)
    offset = 0
  }
  const bytes = Buffer.from(block.subarray(offset, offset + size))
  block.fill(0, offset, offset + size)
  offset += size
  return bytes
}
