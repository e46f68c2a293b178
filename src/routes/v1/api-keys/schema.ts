import Type, { type Static } from 'typebox'
import { OrNull, PageQuery, Slug, Timestamp, Uuid } from '../../../lib/schemas.js'
import { SCOPE_NAMES } from '../../../lib/scopes.js'

export const ScopeSchema = Type.Enum(SCOPE_NAMES, { description: 'See the bearer security scheme for what each scope allows.' })
const Sources = Type.Array(Slug({ description: 'A reporting source (channel or partner) slug.' }), { minItems: 1, maxItems: 50, uniqueItems: true })

export const ApiKeySchema = Type.Object({
  id: Uuid(),
  name: Type.String({ maxLength: 200 }),
  display_prefix: Type.String({ maxLength: 16, description: 'The first characters of the key, to recognise it; the secret itself is never shown again.' }),
  scopes: Type.Array(ScopeSchema, { maxItems: 30 }),
  sources: OrNull(Type.Array(Slug(), { maxItems: 50, description: 'When set, the key reads and writes only incidents of these reporting sources.' })),
  created_by_key_id: OrNull(Uuid()),
  created_at: Timestamp(),
  last_used_at: OrNull(Timestamp({ description: 'Updated at most once a minute.' })),
  expires_at: OrNull(Timestamp()),
  revoked_at: OrNull(Timestamp())
}, { $id: 'ApiKey', additionalProperties: false })

export const ApiKeyCreatedSchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ maxLength: 100, description: 'The secret. Shown only in this response: store it now.' })
}, { $id: 'ApiKeyCreated', additionalProperties: false })

export const ApiKeyCreateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, description: 'What the key is for, e.g. "Resident portal" or "AAPI coalition import".' }),
  scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 30, uniqueItems: true }),
  sources: Type.Optional(Sources),
  expires_at: Type.Optional(Timestamp({ description: 'When the key stops working; must be in the future.' }))
}, { additionalProperties: false })

export const ApiKeyListQuery = Type.Object({
  ...PageQuery,
  state: Type.Optional(Type.Enum(['active', 'revoked', 'expired'], { description: 'Only keys in this state.' }))
}, { additionalProperties: false })

export type ApiKey = Static<typeof ApiKeySchema>
export type ApiKeyCreate = Static<typeof ApiKeyCreateSchema>
