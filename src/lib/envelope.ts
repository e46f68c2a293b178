import { open, seal } from './crypto.js'
import { randomBytesFromBlock } from './random.js'

/**
 * Envelope encryption of a record's personal data: a fresh data key per record seals the data, and the
 * master key seals the data key. The additional data names the city, the record and the field, so a
 * ciphertext copied to another row, or another city, does not open. Destroying the sealed data key erases
 * the data for good, including from any backup taken afterwards is restored.
 */
export interface Sealed { data: Buffer, dataKey: Buffer }

const aad = (cityId: string, kind: string, id: string, part: string): string => `${cityId}\n${kind}\n${id}\n${part}`

export function sealPersonal (masterKey: Buffer, cityId: string, kind: string, id: string, value: unknown): Sealed {
  const dataKey = randomBytesFromBlock(32)
  return {
    data: seal(dataKey, Buffer.from(JSON.stringify(value), 'utf8'), aad(cityId, kind, id, 'data')),
    dataKey: seal(masterKey, dataKey, aad(cityId, kind, id, 'data-key'))
  }
}

/** Throws when the sealed data does not belong to this record. */
export function openPersonal<T> (masterKey: Buffer, cityId: string, kind: string, id: string, sealed: Sealed): T {
  const dataKey = open(masterKey, sealed.dataKey, aad(cityId, kind, id, 'data-key'))
  return JSON.parse(open(dataKey, sealed.data, aad(cityId, kind, id, 'data')).toString('utf8')) as T
}
