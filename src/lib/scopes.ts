/** Every scope a key can hold, with what it allows. Published in the spec's security scheme. */
export const SCOPES = {
  admin: 'Manage the city record, API keys and read the audit trail. Implies every other scope except the personal-data ones.',
  'stakeholders:read': 'Read stakeholders, the leadership group, meetings and the program directory.',
  'stakeholders:write': 'Create and change stakeholders, the leadership group, meetings and the program directory.',
  'stakeholders:read_contact': 'Personal data: read stakeholders\' personal contact details. Never implied by admin.',
  'surveys:read': 'Read community survey definitions and suppressed results.',
  'surveys:write': 'Create and change community survey definitions.',
  'survey-responses:submit': 'Submit-only, for a resident-facing portal whose key every resident shares: submit a survey response and get a receipt. No external_id, never an update, never a read.',
  'survey-responses:write': 'Enter and import responses, paper forms with their external_id included (staff entering forms). A form id is the entering key\'s own.',
  'surveys:read_responses': 'Personal data: read individual survey responses. Never implied by admin.',
  'incidents:read': 'Read bias-incident and hate-crime reports without personal data.',
  'incidents:report': 'Submit-only, for a resident-facing report form whose key every resident shares: submit a report and get a receipt. No external_id, never an update, never a read.',
  'incidents:write': 'Report and import bias incidents and hate crimes (a partner\'s own sources when the key is limited to them), and correct their details with incidents:read. Never the case.',
  'incidents:case': 'Run the case (with incidents:read): status, resolution, duplicates and referrals. City case workers only.',
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

/**
 * Scopes made for keys that many people share (a resident portal's): they create only, and their answers say
 * nothing of what anyone else sent. A key holding one is a shared key.
 */
export const SUBMIT_SCOPES: ReadonlySet<string> = new Set(['incidents:report', 'survey-responses:submit'])

/** What a shared key may hold besides its submit scopes: reading survey forms to render them, nothing else. */
const SHARED_KEY_COMPANIONS: ReadonlySet<string> = new Set(['surveys:read'])

/**
 * Whether a key holding `held` is shared by many people: it never compares, reads back or learns of others'
 * requests (its Idempotency-Keys are spaced by body, its allowance's figures are not shown).
 */
export const isSharedKey = (held: readonly string[]): boolean => held.some((scope) => SUBMIT_SCOPES.has(scope))

/** Why these scopes cannot make one key (a submit scope with one that writes, reads records or runs the case), or null. */
export function sharedKeyProblem (scopes: readonly string[]): string | null {
  if (!isSharedKey(scopes)) return null
  const others = scopes.filter((scope) => !SUBMIT_SCOPES.has(scope) && !SHARED_KEY_COMPANIONS.has(scope))
  return others.length === 0
    ? null
    : `a key with ${scopes.filter((s) => SUBMIT_SCOPES.has(s)).join(', ')} is shared by the residents who submit through it, so it holds only submit scopes and surveys:read; not ${others.join(', ')}`
}

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
