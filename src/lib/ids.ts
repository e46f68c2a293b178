import { v7 } from 'uuid'

/** Time-ordered UUIDv7, made in the application so that the SQL runs on every supported PostgreSQL. */
export const newId = (): string => v7()
