import Type, { type Static } from 'typebox'
import { OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

export const AuditEventSchema = Type.Object({
  id: Uuid(),
  occurred_at: Timestamp(),
  actor_type: Type.Enum(['api_key', 'cli', 'system'], { description: 'An API key, the operator\'s command line, or the service itself.' }),
  actor_key_id: OrNull(Uuid()),
  action: Type.String({ maxLength: 64, examples: ['api_key.created'] }),
  object_type: Type.String({ maxLength: 64, examples: ['api_key'] }),
  object_id: Type.String({ maxLength: 64 }),
  request_id: OrNull(Type.String({ maxLength: 128 })),
  details: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 50, description: 'Field names, ids and settings; never personal data.' })
}, { $id: 'AuditEvent', additionalProperties: false })

export const AuditEventListQuery = Type.Object({
  ...PageQuery,
  object_type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  object_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  actor_key_id: Type.Optional(Uuid()),
  occurred_from: Type.Optional(Timestamp({ description: 'Inclusive.' })),
  occurred_to: Type.Optional(Timestamp({ description: 'Exclusive.' }))
}, { additionalProperties: false })

export type AuditEvent = Static<typeof AuditEventSchema>
export type AuditEventFilter = Static<typeof AuditEventListQuery>
