/** Every scope a key can hold, with what it allows. Published in the spec's security scheme. */
export const SCOPES = {
  admin: 'Manage the city record, API keys and read the audit trail. Implies every other scope except the personal-data ones.',
  'stakeholders:read': 'Read stakeholders, the leadership group, meetings and the program directory.',
  'stakeholders:write': 'Create and change stakeholders, the leadership group, meetings and the program directory.',
  'stakeholders:read_contact': 'Personal data: read stakeholders\' personal contact details. Never implied by admin.',
  'surveys:read': 'Read community survey definitions and suppressed results.',
  'surveys:write': 'Create and change community survey definitions.',
  'survey-responses:write': 'Submit community survey responses (a resident-facing portal).',
  'surveys:read_responses': 'Personal data: read individual survey responses. Never implied by admin.',
  'incidents:read': 'Read bias-incident and hate-crime reports without personal data.',
  'incidents:write': 'Report, import and update bias incidents and hate crimes.',
  'incidents:read_personal': 'Personal data: read reporters\' identity, narratives, addresses and precise coordinates. Never implied by admin; every such read is audited.',
  'plans:read': 'Read the prevention plan: goals, objectives and actions.',
  'plans:write': 'Create and change the prevention plan.',
  'kpis:read': 'Read KPIs, targets and values.',
  'kpis:write': 'Define KPIs, targets and manual values.',
  'exports:read': 'Pull de-identified analyst exports (CSV, NDJSON).',
  'exports:read_records': 'Pull row-level de-identified records (the incidents export). Not implied by exports:read: whoever holds the rows can recount any suppressed cell, so a city grants it to trusted research partners only. Implied by admin.'
} as const

export type Scope = keyof typeof SCOPES
export const SCOPE_NAMES = Object.keys(SCOPES) as Scope[]

/** Scopes that reveal a person; only a key granted one explicitly holds it. */
export const PERSONAL_SCOPES: ReadonlySet<string> = new Set(['incidents:read_personal', 'stakeholders:read_contact', 'surveys:read_responses'])

/** Whether a key holding `held` may do what `needed` allows. */
export function grants (held: readonly string[], needed: string): boolean {
  if (held.includes(needed)) return true
  return held.includes('admin') && !PERSONAL_SCOPES.has(needed)
}

export function scopesDescription (): string {
  const rows = SCOPE_NAMES.map((s) => `| \`${s}\` | ${SCOPES[s]} |`).join('\n')
  return 'An API key sent as `Authorization: Bearer coh_...`. Keys are created by a city administrator ' +
    '(`POST /v1/api-keys`) or on the command line (`cohesion keys create`).\n\n| scope | allows |\n|---|---|\n' + rows
}
