import fc from 'fast-check'

/** A JSON Schema as the committed OpenAPI document spells it (TypeBox output, OpenAPI 3.1). */
export type Schema = Record<string, any>

/**
 * Values worth guessing, by the field they go into: the ids and external_ids of the fixtures (those a key may
 * read and those it may not), reporting sources, survey question codes. A generated request draws on these
 * most of the time, so that it reaches records that exist in one world and not in the other.
 */
export interface Pools {
  ids: () => string[]
  externalIds: string[]
  sources: string[]
  questionCodes: string[]
  optionCodes: string[]
}

export interface Resolver { resolve: (ref: string) => Schema }

export function resolverOf (spec: Schema): Resolver {
  return {
    resolve (ref: string): Schema {
      const path = ref.replace(/^#\//, '').split('/')
      let node: any = spec
      for (const part of path) node = node?.[part]
      if (node === undefined) throw new Error(`unresolved ${ref}`)
      return node
    }
  }
}

const DAY_MS = 86_400_000
const day = fc.integer({ min: Date.UTC(2019, 0, 1) / DAY_MS, max: Date.UTC(2027, 11, 31) / DAY_MS })
  .map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10))
const instant = fc.integer({ min: Date.UTC(2019, 0, 1), max: Date.UTC(2027, 11, 31) })
  .map((ms) => new Date(ms).toISOString())
const word = fc.constantFrom('Downtown', 'West Side', 'library', 'élan', 'ünïcode', "O'Brien", 'a', '', ' ', '%', '\\', '"', 'null', '0', '-1', '../..', 'x'.repeat(300))

function stringArbitrary (schema: Schema, name: string, pools: Pools): fc.Arbitrary<string> {
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 200
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0
  const fit = (a: fc.Arbitrary<string>): fc.Arbitrary<string> => a.filter((s) => s.length <= max && s.length >= min)
  if (schema.format === 'uuid') {
    const ids = pools.ids()
    return ids.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.uuid() }) : fc.uuid()
  }
  if (schema.format === 'date') return day
  if (schema.format === 'date-time') return instant
  if (schema.format === 'email') return fit(fc.oneof(fc.emailAddress(), fc.constantFrom('pii-guess@example.org')))
  if (schema.format === 'uri') return fit(fc.webUrl())
  if (/external_id$/.test(name)) {
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pools.externalIds) }, { weight: 1, arbitrary: fit(fc.string({ minLength: Math.max(1, min), maxLength: Math.min(max, 24) })) })
  }
  if (name === 'source') return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pools.sources) }, { weight: 1, arbitrary: fit(fc.stringMatching(/^[a-z0-9]+(?:-[a-z0-9]+)*$/)) })
  if (typeof schema.pattern === 'string') {
    const matching = fit(fc.stringMatching(new RegExp(schema.pattern), { size: 'small' }))
    if (name === 'breakdown' || name === 'code') return fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...pools.questionCodes) }, { weight: 1, arbitrary: matching })
    return matching
  }
  return fc.oneof({ weight: 3, arbitrary: fit(fc.string({ minLength: min, maxLength: Math.min(max, 40) })) }, { weight: 1, arbitrary: fit(word) })
}

function numberArbitrary (schema: Schema): fc.Arbitrary<number> {
  const min = typeof schema.minimum === 'number' ? schema.minimum : -1e6
  const max = typeof schema.maximum === 'number' ? schema.maximum : 1e6
  if (schema.type === 'integer') {
    const lo = Math.max(min, Number.MIN_SAFE_INTEGER)
    const hi = Math.min(max, Number.MAX_SAFE_INTEGER)
    return fc.oneof({ weight: 3, arbitrary: fc.integer({ min: Math.max(lo, -5), max: Math.min(hi, Math.max(lo, -5) + 20) }) }, { weight: 1, arbitrary: fc.integer({ min: Math.max(lo, -2_147_483_648), max: Math.min(hi, 2_147_483_647) }) })
  }
  return fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: Math.max(min, -10), max: Math.min(max, 100) }))
}

/**
 * A fast-check arbitrary of values valid for `schema` (as far as the schema says: rules and references
 * are the app's to check, and a generated value fails them often, which is what an attacker sends too).
 */
export function valueOf (schema: Schema, resolver: Resolver, pools: Pools, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref !== undefined) return valueOf(resolver.resolve(schema.$ref), resolver, pools, name, depth)
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map((s: Schema) => valueOf(s, resolver, pools, name, depth)))
  if (Array.isArray(schema.allOf)) return valueOf(Object.assign({}, ...schema.allOf), resolver, pools, name, depth)
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type: string) => valueOf({ ...schema, type }, resolver, pools, name, depth)))
  switch (schema.type) {
    case 'null': return fc.constant(null)
    case 'boolean': return fc.boolean()
    case 'integer':
    case 'number': return numberArbitrary(schema)
    case 'string': return stringArbitrary(schema, name, pools)
    case 'array': {
      const items = schema.items ?? {}
      const max = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 5, depth > 1 ? 2 : 4)
      const min = Math.min(typeof schema.minItems === 'number' ? schema.minItems : 0, max)
      const item = valueOf(items, resolver, pools, name.replace(/s$/, ''), depth + 1)
      return schema.uniqueItems === true
        ? fc.uniqueArray(item, { minLength: min, maxLength: max, selector: (v) => JSON.stringify(v) })
        : fc.array(item, { minLength: min, maxLength: max })
    }
    case 'object':
    default: {
      if (schema.properties === undefined && schema.additionalProperties === undefined && schema.type === undefined) {
        return fc.jsonValue({ maxDepth: 2 })
      }
      const properties: Record<string, Schema> = schema.properties ?? {}
      const required: string[] = schema.required ?? []
      const record: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [key, sub] of Object.entries(properties)) record[key] = valueOf(sub, resolver, pools, key, depth + 1)
      const base = fc.record(record, { requiredKeys: required.filter((k) => k in properties) })
      const extra = schema.additionalProperties
      if (extra !== undefined && extra !== false && Object.keys(properties).length === 0) {
        const keys = name === 'answers' ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pools.questionCodes) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }) : fc.string({ minLength: 1, maxLength: 10 })
        const value = extra === true || Object.keys(extra).length === 0
          ? fc.jsonValue({ maxDepth: 1 })
          : name === 'answers' ? fc.oneof(fc.constantFrom(...pools.optionCodes), fc.array(fc.constantFrom(...pools.optionCodes), { maxLength: 3 }), valueOf(extra, resolver, pools, '', depth + 1)) : valueOf(extra, resolver, pools, '', depth + 1)
        const max = Math.min(typeof schema.maxProperties === 'number' ? schema.maxProperties : 4, 6)
        const min = Math.min(typeof schema.minProperties === 'number' ? schema.minProperties : 0, max)
        return fc.dictionary(keys, value, { minKeys: min, maxKeys: max })
      }
      return base
    }
  }
}

/** Ways to make a body that the schema refuses, from a valid one. */
export function invalidOf (valid: fc.Arbitrary<unknown>, schema: Schema, resolver: Resolver): fc.Arbitrary<unknown> {
  const resolved = schema.$ref !== undefined ? resolver.resolve(schema.$ref) : schema
  const required: string[] = resolved.required ?? []
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.tuple(valid, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 1 })).map(([v, k, x]) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v, [`zz_${k}`]: x } : [v, x]),
    fc.tuple(valid, fc.nat()).map(([v, n]) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || required.length === 0) return v === null ? {} : null
      const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) }
      delete copy[required[n % required.length] as string]
      return copy
    }),
    fc.tuple(valid, fc.nat(), fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 5 }), fc.constant([]), fc.constant({}), fc.constant(true))).map(([v, n, wrong]) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return wrong
      const keys = Object.keys(v as object)
      if (keys.length === 0) return wrong
      return { ...(v as Record<string, unknown>), [keys[n % keys.length] as string]: wrong }
    })
  )
}
