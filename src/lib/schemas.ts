import Type, { type Static, type TSchema, type TUnsafe } from 'typebox'
import { ProblemSchema, PROBLEM_TYPES } from './problems.js'

/** Shared primitives. Every string is bounded, every object closed. */
export const Uuid = (options: object = {}) => Type.String({ format: 'uuid', maxLength: 36, ...options })
export const Timestamp = (options: object = {}) => Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339, UTC.', ...options })
export const DateOnly = (options: object = {}) => Type.String({ format: 'date', maxLength: 10, ...options })
export const Slug = (options: object = {}) => Type.String({ pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$', minLength: 1, maxLength: 64, ...options })
export const LanguageTag = (options: object = {}) => Type.String({ pattern: '^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$', maxLength: 35, description: 'BCP 47 language tag.', ...options })
/** Integers are bounded and declare their width, for generated clients. */
export const Int = (options: object = {}) => Type.Integer({ format: 'int32', ...options })
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/**
 * A nullable field of a response, as `type: [T, "null"]`: the serializer tells the two apart by type, where a
 * union makes it validate each row's value against each branch (a third of the CPU of a page of incidents).
 * Responses only: requests keep Nullable, which the validator handles.
 */
export function OrNull<T extends TSchema> (schema: T): TUnsafe<Static<T> | null> {
  const plain = schema as { type?: unknown, enum?: unknown[] }
  if (typeof plain.type === 'string') return Type.Unsafe<Static<T> | null>({ ...schema, type: [plain.type, 'null'] })
  if (Array.isArray(plain.enum) && plain.enum.every((v) => typeof v === 'string')) {
    return Type.Unsafe<Static<T> | null>({ ...schema, type: ['string', 'null'], enum: [...plain.enum, null] })
  }
  return Type.Unsafe<Static<T> | null>(Nullable(schema))
}

/** Text in several languages, keyed by BCP 47 tag: `{ "en": "...", "es": "..." }`. */
export const TranslatedText = (maxLength = 2000) => Type.Record(Type.String({ pattern: '^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$', maxLength: 35 }), Type.String({ maxLength }), { minProperties: 1, maxProperties: 40 })

export const IdParams = Type.Object({ id: Uuid() }, { additionalProperties: false })

export const PageQuery = {
  limit: Type.Optional(Int({ minimum: 1, maximum: 200, default: 50, description: 'Page size.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The `next_cursor` of the previous page.' }))
}

export const Page = <T extends TSchema>(item: T) => Type.Object({
  data: Type.Array(item, { maxItems: 200 }),
  next_cursor: OrNull(Type.String({ maxLength: 512, description: 'Pass as `cursor` for the next page; null on the last page.' }))
}, { additionalProperties: false })

/** A reference to a schema registered with `addSchema`, typed as the schema itself. */
export function ref<T extends TSchema> (schema: T): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id')
  referenced.set(`${id}#`, schema)
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
}

const referenced = new Map<string, TSchema>()

/** The schema a top-level `$ref` made by ref() points to, so that request bodies can be validated by reference. */
export const referencedSchema = (schema: TSchema): TSchema => {
  const target = (schema as { $ref?: unknown }).$ref
  return typeof target === 'string' ? referenced.get(target) ?? schema : schema
}

/** A response that carries the object's ETag header (documented by the openapi plugin). */
export const withEtag = <T extends TSchema>(schema: T): T => ({ ...schema, headers: { ETag: { type: 'string', maxLength: 200 } } })

/** A PATCH body: a JSON Merge Patch (RFC 7396), sent as application/merge-patch+json or as plain JSON. */
export const mergePatchBody = <T extends TSchema>(schema: T): T =>
  ({ content: { 'application/merge-patch+json': { schema }, 'application/json': { schema } } }) as unknown as T

/** The empty body of a 204. */
export const NoContent = (description: string) => Type.Unsafe<null>({ type: 'null', description })

const problemRef = ref(ProblemSchema)

/** The response entries of the problem statuses an operation can answer, for its `response` schema. */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  for (const status of new Set([...statuses, 500])) {
    const titles = Object.values(PROBLEM_TYPES).filter((p) => p.status === status).map((p) => p.title)
    out[status] = {
      description: titles.join('; ') || 'Problem',
      content: { 'application/problem+json': { schema: problemRef } }
    }
  }
  return out
}

/** Statuses every authenticated operation can answer. */
export const AUTHENTICATED = [400, 401, 403, 429, 500] as const

export const sharedSchemas = [ProblemSchema]
