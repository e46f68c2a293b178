export * from './cities.js'
export * from './api-keys.js'
export * from './audit-events.js'
export * from './idempotency-keys.js'
