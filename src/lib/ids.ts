import { v7 } from 'uuid'
import { randomBytesFromBlock } from './random.js'

/**
 * Time-ordered UUIDv7, made in the application so that the SQL runs on every supported PostgreSQL. Its
 * random part comes from the shared block of random bytes (a batch makes two thousand ids).
 */
export const newId = (): string => v7({ random: randomBytesFromBlock(16) })
