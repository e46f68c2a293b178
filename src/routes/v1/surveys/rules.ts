import type { SurveyQuestion, Translated } from '../../../db/schema/index.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import type { SurveyRow } from './repo.js'
import type { ResponseInput, SurveyInput } from './schema.js'

export type SurveyStatus = 'draft' | 'open' | 'closed' | 'archived'

/** A validated survey definition, ready to be stored. */
export interface SurveyDraft {
  externalId: string | null
  title: Translated
  description: Translated | null
  languages: string[]
  defaultLanguage: string
  opensAt: Date | null
  closesAt: Date | null
  anonymous: boolean
  questions: SurveyQuestion[]
}

/** The fixed points a yes_no or likert_5 question may label, and the answers they stand for. */
const FIXED_POINTS: Partial<Record<SurveyQuestion['type'], string[]>> = {
  yes_no: ['yes', 'no'],
  likert_5: ['1', '2', '3', '4', '5']
}
const CHOICES = new Set<SurveyQuestion['type']>(['single_choice', 'multiple_choice'])
const BREAKDOWN_TYPES = new Set<SurveyQuestion['type']>(['single_choice', 'yes_no'])

/**
 * Every text of a definition that must exist in each declared language: where it is (a path relative to the
 * body) and its translations.
 */
function textsOf (input: { title: Translated, description?: Translated | null, questions?: SurveyInput['questions'] }): Array<{ path: string, text: Translated }> {
  const texts = [{ path: '/title', text: input.title }]
  if (input.description != null) texts.push({ path: '/description', text: input.description })
  ;(input.questions ?? []).forEach((q, i) => {
    texts.push({ path: `/questions/${i}/label`, text: q.label })
    if (q.help !== undefined) texts.push({ path: `/questions/${i}/help`, text: q.help })
    ;(q.options ?? []).forEach((o, j) => texts.push({ path: `/questions/${i}/options/${j}/label`, text: o.label }))
  })
  return texts
}

/**
 * Each missing translation (a declared language without text, or only blanks) and each translation into a
 * language the survey does not declare: all of them, so that a translator gets one list.
 */
export function translationProblems (input: { title: Translated, description?: Translated | null, questions?: SurveyInput['questions'], languages: string[] }): FieldError[] {
  const problems: FieldError[] = []
  const declared = new Set(input.languages)
  for (const { path, text } of textsOf(input)) {
    for (const language of input.languages) {
      if ((text[language] ?? '').trim() === '') problems.push({ path: `${path}/${language}`, message: `is missing: the survey is offered in ${language}` })
    }
    for (const language of Object.keys(text)) {
      if (!declared.has(language)) problems.push({ path: `${path}/${language}`, message: `is a translation into ${language}, which is not one of the survey's languages` })
    }
  }
  return problems
}

/** The rules of the questions themselves: unique codes, options where a type needs them, bounds. */
function questionProblems (questions: NonNullable<SurveyInput['questions']>): FieldError[] {
  const problems: FieldError[] = []
  const codes = new Map<string, number>()
  questions.forEach((q, i) => {
    const at = `/questions/${i}`
    const first = codes.get(q.code)
    if (first !== undefined) problems.push({ path: `${at}/code`, message: `repeats the code of question ${first}` })
    else codes.set(q.code, i)
    const options = q.options ?? []
    const optionCodes = options.map((o) => o.code)
    options.forEach((o, j) => {
      if (optionCodes.indexOf(o.code) !== j) problems.push({ path: `${at}/options/${j}/code`, message: 'repeats the code of another option of this question' })
    })
    const fixed = FIXED_POINTS[q.type]
    if (CHOICES.has(q.type)) {
      if (options.length < 2) problems.push({ path: `${at}/options`, message: `needs at least two options for a ${q.type} question` })
    } else if (fixed !== undefined) {
      if (options.length > 0 && (options.length !== fixed.length || fixed.some((code, j) => optionCodes[j] !== code))) {
        problems.push({ path: `${at}/options`, message: `may only label the points of a ${q.type} question, with codes ${fixed.join(', ')} in that order` })
      }
    } else if (q.options !== undefined) {
      problems.push({ path: `${at}/options`, message: `is not taken by a ${q.type} question` })
    }
    if (q.type !== 'number') {
      if (q.min !== undefined) problems.push({ path: `${at}/min`, message: 'is only for number questions' })
      if (q.max !== undefined) problems.push({ path: `${at}/max`, message: 'is only for number questions' })
    } else if (q.min !== undefined && q.max !== undefined && q.min > q.max) {
      problems.push({ path: `${at}/max`, message: 'must not be below min' })
    }
    if (q.breakdown === true && !BREAKDOWN_TYPES.has(q.type)) problems.push({ path: `${at}/breakdown`, message: 'is only for single_choice and yes_no questions (demographic categories)' })
  })
  return problems
}

/**
 * Applies the definition rules to a schema-valid input (new, or stored with a change merged in): the default
 * language among the languages, the period, the questions, and a translation of every text in every language.
 */
export function prepareSurvey (input: SurveyInput): { draft: SurveyDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  if (!input.languages.includes(input.default_language)) problems.push({ path: '/default_language', message: 'must be one of languages' })
  const opensAt = input.opens_at != null ? new Date(input.opens_at) : null
  const closesAt = input.closes_at != null ? new Date(input.closes_at) : null
  if (opensAt !== null && closesAt !== null && closesAt <= opensAt) problems.push({ path: '/closes_at', message: 'must be after opens_at' })
  const questions = input.questions ?? []
  problems.push(...questionProblems(questions), ...translationProblems(input))
  if (problems.length > 0) return { draft: null, problems }
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      title: input.title,
      description: input.description ?? null,
      languages: input.languages,
      defaultLanguage: input.default_language,
      opensAt,
      closesAt,
      anonymous: input.anonymous ?? true,
      questions: questions.map((q) => {
        const question: SurveyQuestion = { code: q.code, type: q.type, required: q.required ?? false, label: q.label, breakdown: q.breakdown ?? false }
        if (q.help !== undefined) question.help = q.help
        if (q.options !== undefined && q.options.length > 0) question.options = q.options
        if (q.min !== undefined) question.min = q.min
        if (q.max !== undefined) question.max = q.max
        return question
      })
    }
  }
}

/** What may not change once a survey has opened: everything about its questions but the wording. */
const shapeOf = (q: SurveyQuestion): string => JSON.stringify([q.code, q.type, q.required, q.breakdown, q.min ?? null, q.max ?? null, (q.options ?? []).map((o) => o.code), q.help !== undefined])

/**
 * The changes an open (or closed, or archived) survey refuses: its questions, their options and codes, its
 * languages and anonymity are what its responses were given against. Labels may be corrected; a translation
 * may not be removed (the completeness rule sees to that, as the languages are frozen too).
 */
export function freezeProblems (stored: SurveyRow, draft: SurveyDraft): FieldError[] {
  const problems: FieldError[] = []
  if (JSON.stringify(stored.languages) !== JSON.stringify(draft.languages)) problems.push({ path: '/body/languages', message: `is frozen once the survey is ${stored.status}` })
  if (stored.defaultLanguage !== draft.defaultLanguage) problems.push({ path: '/body/default_language', message: `is frozen once the survey is ${stored.status}` })
  if (stored.anonymous !== draft.anonymous) problems.push({ path: '/body/anonymous', message: `is frozen once the survey is ${stored.status}: respondents were told` })
  if ((stored.description === null) !== (draft.description === null)) problems.push({ path: '/body/description', message: 'may be corrected, not added or removed, once the survey has opened' })
  if (stored.questions.length !== draft.questions.length) {
    problems.push({ path: '/body/questions', message: `are frozen once the survey is ${stored.status}: no question may be added or removed` })
  } else {
    stored.questions.forEach((q, i) => {
      if (shapeOf(q) !== shapeOf(draft.questions[i] as SurveyQuestion)) {
        problems.push({ path: `/body/questions/${i}`, message: `is frozen once the survey is ${stored.status}: only its labels may be corrected` })
      }
    })
  }
  return problems
}

/** The status workflow: draft → open → closed → archived, one step at a time. */
const NEXT: Record<SurveyStatus, SurveyStatus | null> = { draft: 'open', open: 'closed', closed: 'archived', archived: null }

export function checkTransition (from: SurveyStatus, to: SurveyStatus): void {
  if (from === to) return
  if (NEXT[from] !== to) {
    const allowed = NEXT[from]
    throw new ProblemError('conflict', `A ${from} survey cannot become ${to}; ${allowed === null ? 'it is final' : `it can only become ${allowed}`}.`, {
      errors: [{ path: '/body/status', message: allowed === null ? `${from} is final` : `can only move from ${from} to ${allowed}` }]
    })
  }
}

/** Whether a survey takes responses from the portal at this moment: open, and within its period. */
export function acceptingResponses (row: Pick<SurveyRow, 'status' | 'opensAt' | 'closesAt'>, now: Date): boolean {
  return row.status === 'open' && (row.opensAt === null || row.opensAt <= now) && (row.closesAt === null || now < row.closesAt)
}

/** A translated text in one language, falling back to the default language (and to any, for an incomplete draft). */
export function localized (text: Translated, language: string, fallback: string): string {
  return text[language] ?? text[fallback] ?? Object.values(text)[0] ?? ''
}

/** One de-identified answer as survey_answers keeps it. */
export interface AnswerRow { questionCode: string, optionCode: string, value: number | null, position: number }

/** What a response seals: its free-text answers and the respondent's contact details. */
export interface ResponsePersonal {
  text?: Record<string, string>
  contact?: { name?: string, email?: string, phone?: string }
}

/** A validated response, ready to be stored. */
export interface ResponseDraft {
  externalId: string | null
  language: string
  channel: 'portal' | 'paper'
  filledOn: string
  answers: AnswerRow[]
  personal: ResponsePersonal | null
}

const isBlank = (value: unknown): boolean => value === '' || (Array.isArray(value) && value.length === 0)

/**
 * Checks a response against its survey's definition and lists every problem at once: an unknown question, an
 * answer of the wrong type, an option the question does not offer, a number out of range, a required question
 * left unanswered, a language the survey is not offered in, contact details on an anonymous survey, a day to
 * come. Paths are relative to the response.
 */
export function prepareResponse (survey: Pick<SurveyRow, 'questions' | 'languages' | 'anonymous'>, input: ResponseInput,
  context: { channel: 'portal' | 'paper', today: string }): { draft: ResponseDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  const answers: AnswerRow[] = []
  const text: Record<string, string> = {}
  const problem = (path: string, message: string): void => { problems.push({ path, message }) }
  if (!survey.languages.includes(input.language)) problem('/language', `must be one of the survey's languages (${survey.languages.join(', ')})`)
  if (input.contact !== undefined && survey.anonymous) problem('/contact', 'is not taken: this survey is anonymous')
  const filledOn = input.filled_on ?? context.today
  if (filledOn > context.today) problem('/filled_on', 'must not be after today')
  const questions = new Map(survey.questions.map((q) => [q.code, q]))
  for (const code of Object.keys(input.answers)) {
    if (!questions.has(code)) problem(`/answers/${code}`, 'is not a question of this survey')
  }
  for (const q of survey.questions) {
    const value = input.answers[q.code]
    const at = `/answers/${q.code}`
    if (value === undefined || isBlank(value)) {
      if (q.required) problem(at, 'is required')
      continue
    }
    const options = new Set((q.options ?? []).map((o) => o.code))
    switch (q.type) {
      case 'single_choice':
        if (typeof value !== 'string') problem(at, 'must be the code of one option')
        else if (!options.has(value)) problem(at, `is not an option of this question (${[...options].join(', ')})`)
        else answers.push({ questionCode: q.code, optionCode: value, value: null, position: 0 })
        break
      case 'multiple_choice':
        if (!Array.isArray(value)) { problem(at, 'must be an array of option codes'); break }
        value.forEach((code, i) => {
          if (!options.has(code)) problem(`${at}/${i}`, 'is not an option of this question')
          else if (value.indexOf(code) !== i) problem(`${at}/${i}`, 'repeats an option')
          else answers.push({ questionCode: q.code, optionCode: code, value: null, position: i })
        })
        break
      case 'yes_no':
        if (typeof value !== 'boolean') problem(at, 'must be true or false')
        else answers.push({ questionCode: q.code, optionCode: value ? 'yes' : 'no', value: null, position: 0 })
        break
      case 'likert_5':
      case 'rating_0_10': {
        const [low, high] = q.type === 'likert_5' ? [1, 5] : [0, 10]
        if (typeof value !== 'number') problem(at, `must be a whole number from ${low} to ${high}`)
        else if (!Number.isInteger(value) || value < low || value > high) problem(at, `must be a whole number from ${low} to ${high}`)
        else answers.push({ questionCode: q.code, optionCode: '', value, position: 0 })
        break
      }
      case 'number':
        if (typeof value !== 'number') problem(at, 'must be a number')
        else if ((q.min !== undefined && value < q.min) || (q.max !== undefined && value > q.max)) problem(at, `must be between ${q.min ?? '-∞'} and ${q.max ?? '∞'}`)
        else answers.push({ questionCode: q.code, optionCode: '', value, position: 0 })
        break
      case 'text':
        if (typeof value !== 'string') problem(at, 'must be text')
        else if (value.trim() === '') { if (q.required) problem(at, 'is required') } else text[q.code] = value
        break
    }
  }
  if (problems.length > 0) return { draft: null, problems }
  const personal: ResponsePersonal = {}
  if (Object.keys(text).length > 0) personal.text = text
  if (input.contact !== undefined) personal.contact = input.contact
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      language: input.language,
      channel: context.channel,
      filledOn,
      answers,
      personal: Object.keys(personal).length > 0 ? personal : null
    }
  }
}

/**
 * A response's answers as they were given, from its de-identified rows and its opened sealed part: what the
 * responses list and the export show. Choices come back as codes (in the order chosen), yes_no as a boolean.
 */
export function answersOf (questions: SurveyQuestion[], rows: AnswerRow[], personal: ResponsePersonal | null): Record<string, string | number | boolean | string[]> {
  const types = new Map(questions.map((q) => [q.code, q.type]))
  const out: Record<string, string | number | boolean | string[]> = {}
  const sorted = [...rows].sort((a, b) => a.position - b.position)
  for (const row of sorted) {
    const type = types.get(row.questionCode)
    if (type === 'multiple_choice') {
      const chosen = out[row.questionCode]
      out[row.questionCode] = Array.isArray(chosen) ? [...chosen, row.optionCode] : [row.optionCode]
    } else if (type === 'yes_no') out[row.questionCode] = row.optionCode === 'yes'
    else if (row.value !== null) out[row.questionCode] = row.value
    else out[row.questionCode] = row.optionCode
  }
  for (const [code, value] of Object.entries(personal?.text ?? {})) out[code] = value
  return out
}
