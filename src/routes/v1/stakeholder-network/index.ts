import { availableParallelism } from 'node:os'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Piscina } from 'piscina'
import { today } from '../../../lib/dates.js'
import { ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, problemResponses, ref } from '../../../lib/schemas.js'
import { callerOf } from '../../../plugins/auth.js'
import { assess, networkOf, periodStart } from './assessment.js'
import type { NetworkFigures, NetworkInput } from './network.js'
import { activeStakeholders, attendanceByLeg, currentTies } from './repo.js'
import { ATTENDANCE_MONTHS, AssessmentQuery, AssessmentSchema, BROKERS_LISTED, LEGS_DEFINITION, SINGLE_BROKER_SHARE } from './schema.js'

const DESCRIPTION = `How the four legs of the stool — elected officials, city staff, community organisations, law enforcement — stand, and how
they are tied to each other: the figures, the weakest leg and links, and concrete suggestions.

**Definitions.**
- **Legs**: ${LEGS_DEFINITION}.
- **What counts**: active stakeholders only, and relationships between two of them without an \`until\` before today (today in the
  city's timezone, \`as_of\`). A leadership-group member has a role and no \`left_on\` before today.
- **Ties** are undirected: every relationship type counts, in either direction, and several relationships between the same two
  stakeholders make one tie whose strength is the highest of theirs.
- **Engagement score**: identified 0, aware 1, engaged 2, active 3, leading 4; a leg's score is the mean of its stakeholders'.
- **Density** between legs A and B: ties between them ÷ (|A| × |B|); within a leg of n stakeholders: ties ÷ (n(n−1)/2); null when no
  tie is possible.
- **Weakest leg**: the fewest stakeholders engaged or above, then the lowest score. **Weakest links**: the pairs of distinct legs by
  ties, then mean strength, ascending.
- **Isolated stakeholders** have no tie at all; **components** are the groups the others form through ties.
- **Brokers**: the ${BROKERS_LISTED} highest normalised betweenness centralities (unweighted, over every active stakeholder).
  \`single_broker\` is suggested when one stakeholder holds more than ${SINGLE_BROKER_SHARE * 100} % of the sum of all betweenness.
- **Attendance**: the meetings held in the last \`attendance_months\` months up to today, and who of the active stakeholders came.

Suggestions have a stable \`code\` and \`params\`, so that a portal can word them in the city's languages; \`text\` is English.`

/**
 * The graph computations (betweenness costs stakeholders × ties: about two seconds for 2,000 stakeholders
 * and 20,000 ties) run on worker threads, so that one city's assessment never holds up other requests, nor
 * trips the event-loop load shedding. Half the cores at most; assessments beyond those wait in a short queue,
 * and past it the answer is a 503 to retry. The worker is the same file compiled (.js) or run from source (.ts).
 */
const WORKER = new URL(`./network-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
const POOL = { minThreads: 0, maxThreads: Math.max(1, Math.floor(availableParallelism() / 2)), maxQueue: 8, idleTimeout: 60_000 }

const stakeholderNetwork: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(AssessmentSchema)
  const pool = new Piscina<NetworkInput, NetworkFigures>({ filename: WORKER.href, ...POOL })
  app.addHook('onClose', async () => { await pool.destroy() })
  const figuresOf = async (input: NetworkInput): Promise<NetworkFigures> => {
    if (pool.queueSize >= POOL.maxQueue) {
      throw new ProblemError('service_unavailable', 'Too many assessments are being computed; retry shortly.', { headers: { 'retry-after': '5' }, retryable: true })
    }
    return await pool.run(input, { transferList: [input.ties.buffer as ArrayBuffer] })
  }

  app.get('/assessment', {
    schema: {
      operationId: 'getStakeholderNetworkAssessment',
      tags: ['stakeholder-network'],
      summary: 'Assess the four-legged stool: legs, ties between them, brokers and suggestions',
      description: DESCRIPTION,
      security: [{ bearer: ['stakeholders:read'] }],
      querystring: AssessmentQuery,
      response: { 200: ref(AssessmentSchema), ...problemResponses(...AUTHENTICATED, 503) }
    }
  }, async (request) => {
    const { cityId, city } = callerOf(request)
    const months = request.query.attendance_months ?? ATTENDANCE_MONTHS.default
    const asOf = today(city.timezone)
    const from = periodStart(asOf, months)
    // One set-based read per table, independent of each other.
    const [stakeholders, ties, attendance] = await Promise.all([
      activeStakeholders(app.db, cityId, asOf),
      currentTies(app.db, cityId, asOf),
      attendanceByLeg(app.db, cityId, from, asOf)
    ])
    const network = networkOf(stakeholders, ties)
    const figures = await figuresOf(network.input)
    return assess({ asOf, stakeholders, ties: network.ties, network: figures, attendance: { ...attendance, months, from, to: asOf } })
  })
}

export default stakeholderNetwork
