/**
 * Small-cell suppression for every count Cohesion publishes: survey results, incident counts, KPI series.
 * A count of 2 in one neighbourhood can name a victim, so a small count is hidden, and so is whatever would
 * give it back by subtraction. The module knows nothing of surveys or incidents: it takes a table of cells
 * and the groups (margins) that tie them together, and says which cells to show.
 *
 * The model. A table is a set of cells, each a count. Inner cells and totals are cells alike, so a total of
 * totals (a grand total over row totals) needs nothing special. A group says that one cell (its total) is
 * made of others (its members):
 * - additive: the members add up to the total (the options of a single-choice question, the months of a
 *   year). The module checks that they do.
 * - not additive: a member may be counted in several members (a multiple-choice answer, an incident with two
 *   bias categories), so the members add up to more than the total. The module checks that no member
 *   exceeds the total.
 * A table cut two or three ways is one cell in several groups (its row, its column, its layer); the same
 * counts shown in two cuts (a question overall and by neighbourhood) are linked tables, one table whose
 * overall row is the margin of the breakdown. `crossTable` builds every margin of an n-way cut.
 *
 * The methods, in the order they run (sources in `reference/suppression.md`):
 * 1. Primary suppression, the minimum-frequency rule every agency there applies: a count n with
 *    1 <= n < threshold is hidden; 0 is shown. The threshold is the city's `small_cell_threshold` (CDC WONDER
 *    hides counts under 10, which is the default here). A small total is hidden like any small count.
 * 2. Complementary suppression group by group: when a group's total is known and its hidden members are
 *    a single cell, the group's next-smallest non-zero member is hidden as well (Public Health – Seattle &
 *    King County, `PHSKC-APDE/rads`, `R/suppress.R`, applied per group rather than table-wide); and when
 *    the hidden members add up to less than the threshold, the next-smallest is hidden too, because two
 *    hidden cells of 1 and 2 still give away a combined "3" (OpenSAFELY, `opensafely-core/ehrql` issue
 *    1666). Among equally small candidates the one that also completes another group needing a complement
 *    is preferred, so that in a two-way table the hidden cells close into rectangles instead of spreading
 *    along rows and columns. A group with nothing left to hide but zeros hides its total instead.
 * 3. GaussSuppression (Øyvind Langsrud, Statistics Norway; R packages SSBtools and GaussSuppression,
 *    `statisticsnorway/ssb-gausssuppression`, MIT): the rules of step 2 look at one group at a time, and
 *    in tables cut two or more ways a hidden cell can still be solved from several groups together (two
 *    rectangles of hidden cells joined by one cell: that cell is solved from its row and its column). The
 *    table's linear relations are reduced by Gaussian elimination; the cells still shown are taken as
 *    candidates in a fixed order, each is published unless it would let a primary cell be solved, and then
 *    it is hidden instead. The candidate order follows the package's `CandidatesDefault`: cells another
 *    response shows first, then zeros (so that a zero is shown, as the policy says), then larger counts
 *    before smaller, totals before inner cells on a tie. The elimination is exact (integer arithmetic on
 *    sparse rows, or arithmetic modulo two large primes for the rare table whose integers grow past exact
 *    doubles), so no tolerance decides whether a cell is solvable. A table too large to check within a
 *    bounded amount of work is refused (`SuppressionTableTooLarge`), never published unchecked.
 * Steps 2 and 3 repeat until neither hides anything more: a cell hidden for its row is checked again in its
 * column, and a cell the elimination shows to be solvable counts as known to the rules of step 2. A group
 * the rules cannot complete (no cell left to hide in it, its total fixed by another response) is completed
 * by step 3's repair instead: one of its solvable hidden cells is made unsolvable again.
 *
 * Groups that are not additive are protected as if they were. Subtraction does not recover a member
 * exactly there, but it bounds it (at least the total minus the other members, and at most the total), and
 * a bound can be as tight as the value. Treating the group as additive gives the elimination a relation the
 * reader does not really have, so it only ever hides more; the rules of step 2 keep two hidden members
 * adding up to the threshold or more in every such group.
 *
 * Cells shared with another response. `forced: 'shown'` marks a cell another response already shows (it is
 * treated as known and never picked as a complement); `forced: 'suppressed'` marks one another response
 * hides. The elimination then refuses to publish anything that would reveal a new linear combination of the
 * hidden shared cells, which is what keeps the responses safe together: if each response reveals about the
 * shared cells only what the shared response reveals, no combination of them reveals an inner cell.
 * `suppressLinked` uses this for a question's results overall and by a breakdown: the overall row is
 * suppressed on its own, first, and fixed in every breakdown, so the unbroken results, the results by
 * neighbourhood and the results by age band all agree and can be read side by side.
 *
 * What the caller must still see to (the pitfalls in `reference/suppression.md`):
 * - A hidden cell is returned as `count: null, suppressed: true`, never left out: a list that omits it
 *   while listing the zeros gives it away. Exports declare the marker (Frictionless `missingValues`).
 * - Shares, means and medians leak counts too: `shareOf` and `statisticFor` withhold them with their count.
 * - Two separate requests are only as safe as the tables they share. Counts grouped by different subsets of
 *   the same dimensions (by month, then by month and neighbourhood) must be taken from one suppression of the
 *   full cut with all its margins (`crossTable` over every dimension a request may name), not suppressed
 *   request by request; otherwise a margin hidden in one answer is shown in the other. Free date ranges are
 *   the same trap: two overlapping ranges differ by the month between them, so a series is suppressed over
 *   whole periods, and a value for a range that is not a whole number of periods is not served.
 * - Exact solvability and the per-group sums are checked; bounds that follow only from counts being
 *   non-negative across several groups at once (interval disclosure, which the solver-based methods of
 *   τ-ARGUS and sdcTable audit) are not. `auditSuppression` reports what the module does check, for tests.
 *
 * Every function is deterministic: cells are ordered by key internally, ties are broken by the smallest
 * count and then the key, and the same table gives the same answer whatever order its cells come in.
 */

/** The threshold when a city has not set `small_cell_threshold`: counts of 1 to 9 are hidden. */
export const DEFAULT_SMALL_CELL_THRESHOLD = 10

/** A table the module cannot read: a caller's mistake, never something a client sent. */
export class SuppressionInputError extends Error {
  override name = 'SuppressionInputError'
}

/**
 * A table with so many cells hidden, so intricately linked, that checking it would take too long. A
 * route answers it as a request to cut the table fewer ways, never by publishing it unchecked.
 */
export class SuppressionTableTooLarge extends Error {
  override name = 'SuppressionTableTooLarge'
}

/** Why a cell is hidden: it is small, it protects a small one, or it is never published at all. */
export type SuppressionReason = 'primary' | 'complementary' | 'unpublished'

/** A cell's state fixed by another response that shows the same count. */
export type ForcedState = 'shown' | 'suppressed'

export interface TableCell {
  /** Unique within the table. */
  key: string
  /** A non-negative integer. */
  count: number
  /**
   * False for a count that takes part in the table's relations but is never shown, such as the respondents
   * who did not answer the breakdown question. It is still protected when small, since subtraction would
   * otherwise reveal it. Default true.
   */
  published?: boolean
  forced?: ForcedState
}

export interface TableGroup {
  /** Unique within the table. */
  key: string
  /** The key of the cell holding the group's total. */
  total: string
  /** The keys of the cells the total is made of. */
  members: readonly string[]
  /** False when members may add up to more than the total (several answers per person). Default true. */
  additive?: boolean
}

export interface SuppressionTable {
  cells: readonly TableCell[]
  groups: readonly TableGroup[]
}

export interface SuppressionOptions {
  /** The city's `small_cell_threshold`: counts from 1 to threshold - 1 are hidden. */
  threshold?: number
}

export interface CellStatus {
  count: number | null
  suppressed: boolean
  reason?: SuppressionReason
}

export interface CellOutcome extends CellStatus {
  key: string
}

export interface GroupOutcome {
  key: string
  total: number | null
  suppressed: boolean
}

export interface SuppressionResult {
  threshold: number
  /** Every cell of the table, in the order the table listed them. */
  cells: ReadonlyMap<string, CellOutcome>
  /** Every group, with its total as the caller may show it. */
  groups: ReadonlyMap<string, GroupOutcome>
}

/** True for a count that must not be shown: at least one and below the threshold. Zero is shown. */
export function isSmallCount (count: number, threshold: number): boolean {
  return count >= 1 && count < threshold
}

/** Hides the small cells of a table and the cells that would give them back. */
export function suppress (table: SuppressionTable, options: SuppressionOptions = {}): SuppressionResult {
  const threshold = options.threshold ?? DEFAULT_SMALL_CELL_THRESHOLD
  const model = buildModel(table, threshold)
  const work: Work = { model, reason: initialReasons(model), derivable: new Array<boolean>(model.keys.length).fill(false) }
  const hidden = (cell: number): boolean => work.reason[cell] !== undefined
  // Cells that the cells another response shows give away by themselves, whatever this table hides: no
  // repair can help them, so they are not chased (a hidden cell chased in vain would be hidden for nothing).
  const fixed = model.forced.some((state) => state === 'shown')
    ? detect(model, (cell) => model.forced[cell] !== 'shown').derivable
    : []
  applyRules(work)
  // The elimination says which hidden cells are solvable; the rules, told so, add complements where a
  // group's unknown cells have become a single one or a small sum. Only when the rules have nothing more
  // to add does the repair hide a cell in each solution still found. The loop ends when an elimination of
  // the final pattern finds nothing (or nothing more can be hidden).
  for (;;) {
    const found = detect(model, hidden)
    work.derivable = found.derivable
    if (applyRules(work) > 0) continue
    // A group the rules cannot complete (nothing left to hide in it, its total fixed by another response)
    // is completed by making one of its solvable hidden cells unsolvable again.
    const exposures = [...found.exposures, ...stuckCells(work, found.exposures)].filter((exposure) => fixed[exposure.cell] !== true)
    if (exposures.length === 0) break
    if (repair(work, trace(model, hidden, exposures)) === 0) break
  }
  return outcomes(table, model, work.reason)
}

// ---------------------------------------------------------------------------------------------------------
// The table as indices

interface ModelGroup {
  key: string
  total: number
  members: number[]
  additive: boolean
}

interface Model {
  threshold: number
  /** Cell keys in ascending order; a cell's index is its place here. */
  keys: string[]
  counts: number[]
  published: boolean[]
  forced: Array<ForcedState | undefined>
  groups: ModelGroup[]
  /** For each cell, the groups it is a member of. */
  memberOf: number[][]
  /** For each cell, the groups it is the total of. */
  totalOf: number[][]
}

const compareKeys = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

function buildModel (table: SuppressionTable, threshold: number): Model {
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new SuppressionInputError(`The threshold must be a positive integer, not ${threshold}.`)
  }
  const cells = [...table.cells].sort((a, b) => compareKeys(a.key, b.key))
  const index = new Map<string, number>()
  for (const cell of cells) {
    if (index.has(cell.key)) throw new SuppressionInputError(`The cell ${cell.key} is listed twice.`)
    if (!Number.isSafeInteger(cell.count) || cell.count < 0) {
      throw new SuppressionInputError(`The cell ${cell.key} has the count ${cell.count}; counts are non-negative integers.`)
    }
    index.set(cell.key, index.size)
  }
  const model: Model = {
    threshold,
    keys: cells.map((cell) => cell.key),
    counts: cells.map((cell) => cell.count),
    published: cells.map((cell) => cell.published !== false),
    forced: cells.map((cell) => cell.forced),
    groups: [],
    memberOf: cells.map(() => []),
    totalOf: cells.map(() => [])
  }
  const lookup = (key: string, group: string): number => {
    const found = index.get(key)
    if (found === undefined) throw new SuppressionInputError(`The group ${group} names the unknown cell ${key}.`)
    return found
  }
  const groups = [...table.groups].sort((a, b) => compareKeys(a.key, b.key))
  for (const [position, group] of groups.entries()) {
    if (groups[position + 1]?.key === group.key) throw new SuppressionInputError(`The group ${group.key} is listed twice.`)
    const modelGroup: ModelGroup = {
      key: group.key,
      total: lookup(group.total, group.key),
      members: group.members.map((member) => lookup(member, group.key)),
      additive: group.additive !== false
    }
    checkGroup(model, modelGroup)
    model.totalOf[modelGroup.total]?.push(position)
    for (const member of modelGroup.members) model.memberOf[member]?.push(position)
    model.groups.push(modelGroup)
  }
  return model
}

/** Refuses a group whose counts contradict what it says about them: the caller's query is wrong. */
function checkGroup (model: Model, group: ModelGroup): void {
  const distinct = new Set(group.members)
  if (distinct.size !== group.members.length || distinct.has(group.total)) {
    throw new SuppressionInputError(`The group ${group.key} names a cell twice.`)
  }
  const total = model.counts[group.total] ?? 0
  let sum = 0
  for (const member of group.members) {
    const count = model.counts[member] ?? 0
    sum += count
    if (!group.additive && count > total) {
      throw new SuppressionInputError(`In the group ${group.key}, the cell ${model.keys[member]} counts more than the total.`)
    }
  }
  if (group.additive && sum !== total) {
    throw new SuppressionInputError(`The cells of the additive group ${group.key} add up to ${sum}, not to its total ${total}.`)
  }
}

interface Work {
  model: Model
  /** Why each cell is hidden; undefined while it is shown. */
  reason: Array<SuppressionReason | undefined>
  /** Hidden cells that the shown cells and the relations solve, as of the last elimination. */
  derivable: boolean[]
}

function initialReasons (model: Model): Array<SuppressionReason | undefined> {
  return model.counts.map((count, cell) => {
    if (!model.published[cell]) return 'unpublished'
    if (isSmallCount(count, model.threshold)) return 'primary'
    if (model.forced[cell] === 'suppressed') return 'complementary'
    return undefined
  })
}

function outcomes (table: SuppressionTable, model: Model, reason: Array<SuppressionReason | undefined>): SuppressionResult {
  const index = new Map(model.keys.map((key, cell) => [key, cell]))
  const cells = new Map<string, CellOutcome>()
  for (const { key, count } of table.cells) {
    const why = reason[index.get(key) ?? -1]
    cells.set(key, why === undefined ? { key, count, suppressed: false } : { key, count: null, suppressed: true, reason: why })
  }
  const groups = new Map<string, GroupOutcome>()
  for (const { key, total } of table.groups) {
    const cell = cells.get(total)
    groups.set(key, { key, total: cell?.count ?? null, suppressed: cell?.suppressed ?? true })
  }
  return { threshold: model.threshold, cells, groups }
}

// ---------------------------------------------------------------------------------------------------------
// Step 2: next-smallest and sum rules, group by group

const isHidden = (work: Work, cell: number): boolean => work.reason[cell] !== undefined
const isUnknown = (work: Work, cell: number): boolean => isHidden(work, cell) && work.derivable[cell] !== true

/** A cell the rules protect: a small count, or a complement whose recovery would undo the protection it gives. */
const isGuarded = (work: Work, cell: number): boolean =>
  isSmallCount(work.model.counts[cell] ?? 0, work.model.threshold) || work.reason[cell] === 'complementary'

/**
 * A group gives its hidden members away when its total is known and they are a single cell (recovered by
 * subtraction) or add up to less than the threshold (their combined count is itself a small count).
 */
function needsComplement (work: Work, groupIndex: number): boolean {
  const group = work.model.groups[groupIndex]
  if (group === undefined || isUnknown(work, group.total)) return false
  let hidden = 0
  let sum = 0
  let guarded = false
  for (const member of group.members) {
    if (!isUnknown(work, member)) continue
    hidden++
    sum += work.model.counts[member] ?? 0
    guarded ||= isGuarded(work, member)
  }
  return guarded && (hidden === 1 || sum < work.model.threshold)
}

/** The cell to hide next for a group that needs it, or undefined when the group is safe. */
function complementFor (work: Work, groupIndex: number): number | undefined {
  const group = work.model.groups[groupIndex]
  if (group === undefined || !needsComplement(work, groupIndex)) return undefined
  const { counts, forced, memberOf } = work.model
  let best: number | undefined
  let bestRank: number[] = []
  for (const member of group.members) {
    if (isHidden(work, member) || counts[member] === 0 || forced[member] === 'shown') continue
    const completesAnother = (memberOf[member] ?? []).some((other) => other !== groupIndex && needsComplement(work, other))
    const rank = [completesAnother ? 0 : 1, counts[member] ?? 0, member]
    if (best === undefined || compareRanks(rank, bestRank) < 0) {
      best = member
      bestRank = rank
    }
  }
  if (best !== undefined) return best
  // Only zeros are left to pair with: hiding a zero would leave the hidden cells adding up to the same small
  // count, so the total is hidden instead. A total only known by elimination is left to step 3.
  if (!isHidden(work, group.total) && forced[group.total] !== 'shown') return group.total
  return undefined
}

function compareRanks (a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0)
    if (difference !== 0) return difference
  }
  return 0
}

/**
 * The solvable hidden cells of the groups that still need a complement after the rules ran: the rules
 * found nothing to hide there, so the cell to hide is one that breaks the solution of one of these.
 */
function stuckCells (work: Work, known: readonly Exposure[]): Exposure[] {
  const listed = new Set(known.map((exposure) => exposure.cell))
  const cells: Exposure[] = []
  for (const [index, group] of work.model.groups.entries()) {
    // A group whose total is never published protects that total, which step 3 checks as a cell of its own;
    // when another response fixes every cell that gives it, nothing in this table can help.
    if (work.model.published[group.total] !== true || !needsComplement(work, index)) continue
    for (const cell of [group.total, ...group.members]) {
      if (!isHidden(work, cell) || work.derivable[cell] !== true || listed.has(cell)) continue
      listed.add(cell)
      cells.push({ cell, kind: 'solved' })
    }
  }
  return cells
}

/** Applies the rules until every group is satisfied; returns how many cells it hid. */
function applyRules (work: Work): number {
  const { groups, memberOf, totalOf } = work.model
  const dirty = new Array<boolean>(groups.length).fill(true)
  let added = 0
  for (let again = true; again;) {
    again = false
    for (let group = 0; group < groups.length; group++) {
      if (!dirty[group]) continue
      dirty[group] = false
      const pick = complementFor(work, group)
      if (pick === undefined) continue
      work.reason[pick] = 'complementary'
      added++
      again = true
      // The sum rule may need more than one cell in this group, and the cell now hidden changes every
      // group it belongs to.
      dirty[group] = true
      for (const other of memberOf[pick] ?? []) dirty[other] = true
      for (const other of totalOf[pick] ?? []) dirty[other] = true
    }
  }
  return added
}

// ---------------------------------------------------------------------------------------------------------
// Step 3: GaussSuppression's elimination

/**
 * What a reader can solve from the cells shown: exposures are the hidden small cells (and the new
 * combinations of shared cells) that the relations give away, each with the shown cells its solution uses.
 */
interface Exposure {
  cell: number
  /** Solved: a small cell's value follows. Shared: a combination of shared cells follows. */
  kind: 'solved' | 'shared'
  /** The shown cells the solution uses; undefined when the table was too large to trace the solution. */
  shown?: number[]
}

interface Elimination {
  /** Hidden cells whose value the shown cells and the relations fix. */
  derivable: boolean[]
  exposures: Exposure[]
}

/** Finds what is solvable, or refuses a table too large to check. */
function detect (model: Model, hidden: (cell: number) => boolean): Elimination {
  try {
    return eliminateHidden(model, hidden)
  } catch (error) {
    if (!(error instanceof WorkBudgetExceeded)) throw error
    throw new SuppressionTableTooLarge(`A table of ${model.keys.length} cells is too large to check; cut it fewer ways or over fewer levels.`)
  }
}

/** The exposures with the shown cells each solution uses, or without them when tracing costs too much. */
function trace (model: Model, hidden: (cell: number) => boolean, exposures: readonly Exposure[]): readonly Exposure[] {
  try {
    return eliminateHidden(model, hidden, new Set(exposures.map((exposure) => exposure.cell))).exposures
  } catch (error) {
    if (!(error instanceof WorkBudgetExceeded)) throw error
    return exposures.map(({ cell, kind }) => ({ cell, kind }))
  }
}

/**
 * Eliminates the hidden cells from the table's relations. Each relation is a row; only hidden cells are
 * pivoted on, so a row that ends up with a single hidden cell says that this cell follows from shown ones.
 * Relations made only of cells another response fixes are taken first: they are what that response
 * reveals already.
 *
 * With `focus`, the shown cells ride along in the rows, which tells which shown cells each solution uses.
 * That costs more, so it is done only once something is found, and only for the relations connected to
 * the exposed cells through hidden ones: relations that share no hidden cell never mix in the elimination.
 */
function eliminateHidden (model: Model, hidden: (cell: number) => boolean, focus?: ReadonlySet<number>): Elimination {
  const budget = focus === undefined ? DETECTION_BUDGET : TRACING_BUDGET
  try {
    return eliminateWith(model, hidden, focus, integers, budget)
  } catch (error) {
    if (!(error instanceof IntegerOverflow)) throw error
  }
  // Tables cut three ways are not totally unimodular, and the coefficients of a large one can outgrow
  // exact doubles (and make big integers crawl). The elimination then runs in two prime fields instead,
  // where nothing grows. A cell solvable over the rationals stays solvable modulo a prime unless the prime
  // divides the determinant that solves it; taking a cell as solvable when either field says so, a miss
  // needs both primes (about 2^26 each) to divide that same determinant, and a false alarm only hides more.
  const first = eliminateWith(model, hidden, focus, modulo(PRIMES[0]), budget)
  const second = eliminateWith(model, hidden, focus, modulo(PRIMES[1]), budget)
  const seen = new Set(first.exposures.map((exposure) => exposure.cell))
  return {
    derivable: first.derivable.map((value, cell) => value || second.derivable[cell] === true),
    exposures: [...first.exposures, ...second.exposures.filter((exposure) => !seen.has(exposure.cell))]
  }
}

/**
 * Bounds on the elimination's work, counted in row entries touched. Finding what is solvable stays sparse
 * for every table a request can sensibly ask for (a 36 × 35 × 20 cut of incidents takes well under a
 * second); past the bound the table is refused rather than left unchecked. Tracing which shown cells a
 * solution uses carries those cells along and grows much faster; past its bound the repair falls back to
 * the groups of the exposed cell.
 */
const DETECTION_BUDGET = 50_000_000
const TRACING_BUDGET = 2_000_000

class WorkBudgetExceeded extends Error {}

/** The two largest primes below 2^26: a product of two residues stays below 2^52, exact in a double. */
const PRIMES = [67108859, 67108837] as const

function eliminateWith<V> (model: Model, hidden: (cell: number) => boolean, focus: ReadonlySet<number> | undefined, arithmetic: Arithmetic<V>, budget: number): Elimination {
  const zeros = knownZeros(model)
  const unknown = model.keys.map((_, cell) => hidden(cell) && !zeros.has(cell))
  const shared = model.forced.map((state, cell) => state !== undefined && unknown[cell] === true)
  const system = new HiddenSystem(unknown, shared, arithmetic, budget)
  const relations = model.groups.filter((group) => group.members.length > 0 || group.additive)
  const inFocus = focus === undefined ? () => true : connectedTo(relations, unknown, focus, model.keys.length)
  const baseline = (group: ModelGroup): boolean => [group.total, ...group.members].every((cell) => model.forced[cell] !== undefined)
  for (const pass of [true, false]) {
    for (const group of relations) {
      if (baseline(group) !== pass || !inFocus(group)) continue
      const row = relation(group, arithmetic, focus === undefined ? unknown : undefined)
      if (row.size > 0) system.add(row, pass)
    }
  }
  const derivable = unknown.map((isUnknownCell, cell) => isUnknownCell ? system.solved(cell) : hidden(cell))
  const exposures: Exposure[] = []
  for (const [cell, row] of system.rows()) {
    // Traced, a cell in focus is reported whenever it is solved: the repair asked about it.
    const solved = derivable[cell] === true && (isSmallCount(model.counts[cell] ?? 0, model.threshold) || focus?.has(cell) === true)
    if (!solved && !system.revealsShared(cell)) continue
    exposures.push({ cell, kind: solved ? 'solved' : 'shared', shown: [...row.keys()].filter((column) => unknown[column] !== true) })
  }
  return { derivable, exposures }
}

/** Which relations share hidden cells, directly or through others, with the focus cells (union-find). */
function connectedTo (relations: readonly ModelGroup[], unknown: readonly boolean[], focus: ReadonlySet<number>, size: number): (group: ModelGroup) => boolean {
  const parent = Array.from({ length: size }, (_, cell) => cell)
  const root = (cell: number): number => {
    let top = cell
    while (parent[top] !== top) top = parent[top] ?? top
    for (let next = cell; parent[next] !== top;) [next, parent[next]] = [parent[next] ?? top, top]
    return top
  }
  const hiddenOf = (group: ModelGroup): number[] => [group.total, ...group.members].filter((cell) => unknown[cell] === true)
  for (const group of relations) {
    const [first, ...rest] = hiddenOf(group)
    if (first !== undefined) for (const cell of rest) parent[root(cell)] = root(first)
  }
  const roots = new Set([...focus].map(root))
  return (group) => hiddenOf(group).some((cell) => roots.has(root(cell)))
}

/**
 * Hides, for each exposure, the shown cell its solution uses that is least worth publishing: the same
 * preference as GaussSuppression's candidate order read from the end (small counts before large, inner
 * cells before totals, never a zero when there is another choice). Returns how many cells it hid.
 */
function repair (work: Work, exposures: readonly Exposure[]): number {
  const { model } = work
  const zeros = knownZeros(model)
  const picked = new Set<number>()
  const candidate = (cell: number): boolean => work.reason[cell] === undefined && model.forced[cell] !== 'shown' && !zeros.has(cell)
  for (const exposure of exposures) {
    // A cell hidden for an earlier exposure may already break this one's solution; the next elimination
    // says whether it did.
    const layers = exposure.shown === undefined ? around(model, (cell) => work.reason[cell] !== undefined && !zeros.has(cell), exposure.cell) : [exposure.shown]
    if (layers.some((layer) => layer.some((cell) => picked.has(cell)))) continue
    let pick: number | undefined
    let pickRank: number[] = []
    for (const layer of layers) {
      for (const cell of layer) {
        if (!candidate(cell)) continue
        const count = model.counts[cell] ?? 0
        const rank = [count === 0 ? 1 : 0, count, model.totalOf[cell]?.length ?? 0, cell]
        if (pick === undefined || compareRanks(rank, pickRank) < 0) {
          pick = cell
          pickRank = rank
        }
      }
      if (pick !== undefined) break
    }
    if (pick === undefined) continue
    work.reason[pick] = 'complementary'
    picked.add(pick)
  }
  return picked.size
}

/**
 * The shown cells a solution of `cell` may use, nearest first, for when it cannot be traced: the cells
 * sharing a group with it, then those sharing a group with the hidden cells among them, and so on. A
 * solution only combines groups linked through hidden cells, so it uses none but these; hiding the nearest
 * small one breaks the groups through which the cell is most directly solved, and the next elimination
 * checks that it did.
 */
function around (model: Model, hidden: (cell: number) => boolean, cell: number): number[][] {
  const layers: number[][] = []
  const seen = new Set([cell])
  let frontier = [cell]
  while (frontier.length > 0) {
    const shown: number[] = []
    const next: number[] = []
    for (const current of frontier) {
      for (const index of [...model.memberOf[current] ?? [], ...model.totalOf[current] ?? []]) {
        const group = model.groups[index]
        if (group === undefined) continue
        for (const other of [group.total, ...group.members]) {
          if (seen.has(other)) continue
          seen.add(other)
          if (hidden(other)) next.push(other)
          else shown.push(other)
        }
      }
    }
    if (shown.length > 0) layers.push(shown)
    frontier = next
  }
  return layers
}

/**
 * The members of a group whose total is zero are zero, and a reader knows it as soon as the total is
 * known; they are taken as known whether the total is shown or not, which can only hide more.
 */
function knownZeros (model: Model): Set<number> {
  const zeros = new Set<number>()
  for (const group of model.groups) {
    if (model.counts[group.total] !== 0) continue
    for (const member of group.members) zeros.add(member)
  }
  return zeros
}

type SparseVector<V> = Map<number, V>

/** A group as a row, total minus members; restricted to the cells `keep` marks when it is given. */
function relation<V> (group: ModelGroup, arithmetic: Arithmetic<V>, keep?: readonly boolean[]): SparseVector<V> {
  const vector: SparseVector<V> = new Map()
  if (keep === undefined || keep[group.total] === true) vector.set(group.total, arithmetic.one)
  for (const member of group.members) if (keep === undefined || keep[member] === true) vector.set(member, arithmetic.minusOne)
  return vector
}

/**
 * The operations the elimination needs: on integers (doubles, exact below 2^53 and checked) and in a prime
 * field for tables whose integers grow too large.
 */
interface Arithmetic<V> {
  one: V
  minusOne: V
  /** A coefficient that brings no growth when pivoted on. */
  unit: (value: V) => boolean
  /** Scales a new row so that its entry at the pivot is positive (integers) or one (prime field). */
  normalize: (row: SparseVector<V>, pivot: number) => void
  /**
   * Removes `column` from `target` with `row`, whose entry there is normalized: target := a * target -
   * b * row. Reports each column that appears in or leaves the target.
   */
  eliminate: (target: SparseVector<V>, row: SparseVector<V>, column: number, changed?: (column: number, present: boolean) => void) => void
}

class IntegerOverflow extends Error {}

function checked (value: number): number {
  if (!Number.isSafeInteger(value)) throw new IntegerOverflow('The elimination left the range of exact doubles.')
  return value
}

/** Writes `value` at `key`, dropping zeros, and reports a change of support. */
function put (target: SparseVector<number>, key: number, value: number, changed?: (column: number, present: boolean) => void): void {
  if (value === 0) {
    if (target.delete(key)) changed?.(key, false)
    return
  }
  if (!target.has(key)) changed?.(key, true)
  target.set(key, value)
}

const integers: Arithmetic<number> = {
  one: 1,
  minusOne: -1,
  unit: (value) => value === 1 || value === -1,
  normalize (row, pivot) {
    if ((row.get(pivot) ?? 0) < 0) for (const [key, value] of row) row.set(key, -value)
  },
  eliminate (target, row, column, changed) {
    const b = target.get(column)
    const a = row.get(column)
    if (b === undefined || a === undefined) return
    if (a !== 1) for (const [key, value] of target) target.set(key, checked(value * a))
    for (const [key, value] of row) put(target, key, checked((target.get(key) ?? 0) - b * value), changed)
    if (a === 1) return
    // Rows are kept primitive (divided by their common factor), which keeps the entries as small as exact
    // integer elimination allows.
    let factor = 0
    for (const value of target.values()) factor = gcd(factor, Math.abs(value))
    if (factor > 1) for (const [key, value] of target) target.set(key, value / factor)
  }
}

function modulo (prime: number): Arithmetic<number> {
  const reduce = (value: number): number => ((value % prime) + prime) % prime
  return {
    one: 1,
    minusOne: prime - 1,
    unit: () => true,
    normalize (row, pivot) {
      const inverse = modularInverse(row.get(pivot) ?? 1, prime)
      for (const [key, value] of row) row.set(key, (value * inverse) % prime)
    },
    eliminate (target, row, column, changed) {
      const b = target.get(column)
      if (b === undefined) return
      for (const [key, value] of row) put(target, key, reduce((target.get(key) ?? 0) - ((b * value) % prime)), changed)
    }
  }
}

function modularInverse (value: number, prime: number): number {
  // The extended Euclidean algorithm; the coefficients stay below the prime in magnitude.
  let [a, b, x, y] = [value, prime, 1, 0]
  while (b !== 0) {
    const quotient = Math.floor(a / b)
    const [nextB, nextY] = [a - quotient * b, x - quotient * y]
    a = b
    b = nextB
    x = y
    y = nextY
  }
  return ((x % prime) + prime) % prime
}

function gcd (a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/**
 * The relations in reduced row echelon form over the hidden cells, as sparse integer rows: each row has a
 * hidden pivot cell that no other row holds. A hidden cell is solvable exactly when it is a pivot and its
 * row holds no other hidden cell (any combination of rows that touches another row keeps that row's
 * pivot), so solvability is read off the rows. Integer rows are divided by their common factor instead of
 * their pivot, so no fraction arises and no tolerance decides anything; rows in a prime field are scaled to
 * a pivot of one.
 */
class HiddenSystem<V> {
  readonly #rows = new Map<number, SparseVector<V>>()
  readonly #rowsWith = new Map<number, Set<number>>()
  readonly #fresh = new Set<number>()
  readonly #unknown: readonly boolean[]
  readonly #shared: readonly boolean[]
  readonly #arithmetic: Arithmetic<V>
  #budget: number

  /**
   * `unknown` marks the hidden cells; `shared` the hidden cells another response hides too, about which
   * this response must reveal nothing that response does not. `budget` bounds the row entries touched.
   */
  constructor (unknown: readonly boolean[], shared: readonly boolean[], arithmetic: Arithmetic<V>, budget: number) {
    this.#unknown = unknown
    this.#shared = shared
    this.#arithmetic = arithmetic
    this.#budget = budget
  }

  /** Adds a relation; `baseline` when it is one the response sharing cells with this one shows too. */
  add (vector: SparseVector<V>, baseline: boolean): void {
    const { normalize } = this.#arithmetic
    const row = new Map(vector)
    // Rows are zero at every other row's pivot, so subtracting one never brings in another pivot: one pass
    // over the pivots the vector starts with reduces it completely.
    for (const column of vector.keys()) {
      const pivotRow = this.#rows.get(column)
      if (pivotRow !== undefined) this.#eliminate(row, pivotRow, column)
    }
    const pivot = this.#choosePivot(row)
    if (pivot === undefined) return
    normalize(row, pivot)
    for (const other of [...this.#rowsWith.get(pivot) ?? []]) {
      const target = this.#rows.get(other)
      if (target === undefined) continue
      this.#eliminate(target, row, pivot, (column, present) => {
        if (this.#unknown[column] === true) relink(this.#rowsWith, column, other, present)
      })
    }
    this.#rows.set(pivot, row)
    for (const column of row.keys()) if (this.#unknown[column] === true) link(this.#rowsWith, column, pivot)
    // The pivot is a shared cell only when the row holds no other kind of hidden cell: a combination of
    // shared cells the baseline does not give.
    if (!baseline && this.#shared[pivot] === true) this.#fresh.add(pivot)
  }

  #eliminate (target: SparseVector<V>, row: SparseVector<V>, column: number, changed?: (column: number, present: boolean) => void): void {
    this.#budget -= target.size + row.size
    if (this.#budget < 0) throw new WorkBudgetExceeded('The elimination exceeded its work budget.')
    this.#arithmetic.eliminate(target, row, column, changed)
  }

  rows (): Array<[number, SparseVector<V>]> {
    return [...this.#rows].sort((a, b) => a[0] - b[0])
  }

  solved (cell: number): boolean {
    const row = this.#rows.get(cell)
    if (row === undefined) return false
    for (const column of row.keys()) if (column !== cell && this.#unknown[column] === true) return false
    return true
  }

  revealsShared (cell: number): boolean {
    return this.#fresh.has(cell)
  }

  /**
   * Pivots on a hidden cell that is not shared when there is one, which keeps the rows made only of
   * shared cells exactly the combinations of them a reader learns; then on a coefficient of one (no
   * growth), then on the cell fewest rows hold (least fill-in), then on the lowest index (determinism).
   */
  #choosePivot (row: SparseVector<V>): number | undefined {
    let best: number | undefined
    let bestRank: number[] = []
    for (const [column, value] of row) {
      if (this.#unknown[column] !== true) continue
      const rank = [this.#shared[column] === true ? 1 : 0, this.#arithmetic.unit(value) ? 0 : 1, this.#rowsWith.get(column)?.size ?? 0, column]
      if (best === undefined || compareRanks(rank, bestRank) < 0) {
        best = column
        bestRank = rank
      }
    }
    return best
  }
}

function link (index: Map<number, Set<number>>, column: number, holder: number): void {
  const holders = index.get(column)
  if (holders === undefined) index.set(column, new Set([holder]))
  else holders.add(holder)
}

function relink (index: Map<number, Set<number>>, column: number, holder: number, present: boolean): void {
  if (present) {
    link(index, column, holder)
    return
  }
  const holders = index.get(column)
  holders?.delete(holder)
  if (holders?.size === 0) index.delete(column)
}

// ---------------------------------------------------------------------------------------------------------
// Audit

export interface SuppressionAudit {
  /** Small cells a reader can solve exactly from what the result shows and the table's relations. */
  recoverable: string[]
  /** Groups with a known total whose unknown members include a small cell and add up to less than the threshold. */
  smallHiddenSums: string[]
  /** Hidden cells fixed by another response (`forced`) of which this result reveals a new combination. */
  revealedShared: string[]
}

/**
 * Checks a result against the table it came from with the same exact elimination: for tests of the
 * callers, and for anyone changing this module. An empty audit is what `suppress` aims for; a table whose
 * forced cells alone give a small cell away cannot be repaired and shows up here.
 */
export function auditSuppression (table: SuppressionTable, result: SuppressionResult): SuppressionAudit {
  const model = buildModel(table, result.threshold)
  const hidden = model.keys.map((key) => result.cells.get(key)?.suppressed !== false)
  const { derivable, exposures } = detect(model, (cell) => hidden[cell] === true)
  const known = (cell: number): boolean => hidden[cell] !== true || derivable[cell] === true
  const small = (cell: number): boolean => isSmallCount(model.counts[cell] ?? 0, model.threshold)
  const recoverable = model.keys.filter((_, cell) => small(cell) && known(cell))
  const smallHiddenSums = model.groups.filter((group) => {
    if (!known(group.total)) return false
    const unknown = group.members.filter((member) => !known(member))
    const sum = unknown.reduce((total, member) => total + (model.counts[member] ?? 0), 0)
    return unknown.some(small) && sum < model.threshold
  }).map((group) => group.key)
  const revealedShared = exposures.filter((exposure) => exposure.kind === 'shared').map((exposure) => model.keys[exposure.cell] ?? '')
  return { recoverable, smallHiddenSums, revealedShared }
}

// ---------------------------------------------------------------------------------------------------------
// Builders

/** A level of a dimension, or null for all of them (a margin). */
export type Level = string | null

/** The key of a cell of a table built by `crossTable`: its levels, one per dimension, null for a margin. */
export function cellKey (levels: readonly Level[]): string {
  return JSON.stringify(levels)
}

/** The key of the group that adds up `levels`' cell over one dimension. */
export function groupKey (levels: readonly Level[], dimension: string): string {
  return `${cellKey(levels)} by ${JSON.stringify(dimension)}`
}

export interface Dimension {
  name: string
  /** A level that is not published (answers with no breakdown given) takes part in the margins only. */
  levels: ReadonlyArray<string | { key: string, published?: boolean }>
  /** False when one record counts in several levels (bias categories, multiple-choice options). Default true. */
  additive?: boolean
}

export interface CrossTableSpec {
  dimensions: readonly Dimension[]
  /** Inner cells, one level per dimension; a combination not listed counts zero. */
  cells: Iterable<{ levels: readonly string[], count: number }>
  /**
   * Margin counts. Required for a margin taken over non-additive dimensions only (distinct incidents per
   * neighbourhood, whatever their categories), since it cannot be summed; any other margin given is
   * checked against the sum.
   */
  margins?: Iterable<{ levels: readonly Level[], count: number }>
  /** Cells whose state another response fixes (see `ForcedState`). */
  forced?: Iterable<{ levels: readonly Level[], state: ForcedState }>
}

interface BuiltDimension {
  name: string
  keys: string[]
  published: boolean[]
  additive: boolean
}

/**
 * A table cut one, two, three or more ways with every margin: each combination of levels and nulls is a
 * cell, and each margin is the total of one group per dimension it is taken over. Cell keys are
 * `cellKey(levels)`, group keys `groupKey(levels, dimension)`.
 */
export function crossTable (spec: CrossTableSpec): SuppressionTable {
  const dimensions = spec.dimensions.map(buildDimension)
  if (dimensions.length === 0) throw new SuppressionInputError('A table needs at least one dimension.')
  if (new Set(dimensions.map((dimension) => dimension.name)).size !== dimensions.length) {
    throw new SuppressionInputError('Two dimensions have the same name.')
  }
  const given = new Map<string, number>()
  for (const cell of spec.cells) addGiven(given, dimensions, cell.levels, cell.count, false)
  for (const margin of spec.margins ?? []) addGiven(given, dimensions, margin.levels, margin.count, true)
  const forced = new Map<string, ForcedState>()
  for (const { levels, state } of spec.forced ?? []) forced.set(cellKey(checkLevels(dimensions, levels)), state)

  const counts = new Map<string, number>()
  const cells: TableCell[] = []
  const groups: TableGroup[] = []
  for (const pattern of patterns(dimensions)) {
    const levels = pattern.map((level, d) => level < 0 ? null : dimensions[d]?.keys[level] ?? null)
    const key = cellKey(levels)
    const count = given.get(key) ?? marginFromParts(dimensions, pattern, levels, counts)
    counts.set(key, count)
    const published = pattern.every((level, d) => level < 0 || dimensions[d]?.published[level] === true)
    const state = forced.get(key)
    cells.push({ key, count, ...(published ? {} : { published: false }), ...(state === undefined ? {} : { forced: state }) })
    for (const [d, dimension] of dimensions.entries()) {
      if (pattern[d] !== -1) continue
      const members = dimension.keys.map((level) => cellKey(levels.map((other, e) => e === d ? level : other)))
      groups.push({ key: groupKey(levels, dimension.name), total: key, members, additive: dimension.additive })
    }
  }
  return { cells, groups }
}

function buildDimension (dimension: Dimension): BuiltDimension {
  const keys = dimension.levels.map((level) => typeof level === 'string' ? level : level.key)
  if (new Set(keys).size !== keys.length) throw new SuppressionInputError(`The dimension ${dimension.name} lists a level twice.`)
  return {
    name: dimension.name,
    keys,
    published: dimension.levels.map((level) => typeof level === 'string' || level.published !== false),
    additive: dimension.additive !== false
  }
}

function checkLevels (dimensions: readonly BuiltDimension[], levels: readonly Level[]): Level[] {
  if (levels.length !== dimensions.length) {
    throw new SuppressionInputError(`The cell ${cellKey(levels)} needs one level for each of the ${dimensions.length} dimensions.`)
  }
  for (const [d, level] of levels.entries()) {
    if (level !== null && dimensions[d]?.keys.includes(level) !== true) {
      throw new SuppressionInputError(`The cell ${cellKey(levels)} names a level the dimension ${dimensions[d]?.name} does not have.`)
    }
  }
  return [...levels]
}

function addGiven (given: Map<string, number>, dimensions: readonly BuiltDimension[], levels: readonly Level[], count: number, margin: boolean): void {
  const key = cellKey(checkLevels(dimensions, levels))
  if (margin !== levels.includes(null)) {
    throw new SuppressionInputError(margin ? `The margin ${key} has no null level.` : `The inner cell ${key} has a null level.`)
  }
  if (given.has(key)) throw new SuppressionInputError(`The cell ${key} is listed twice.`)
  given.set(key, count)
}

/** Every combination of levels (-1 for a margin), inner cells first and the grand total last. */
function patterns (dimensions: readonly BuiltDimension[]): number[][] {
  let all: number[][] = [[]]
  for (const dimension of dimensions) {
    const next: number[][] = []
    for (const prefix of all) {
      for (let level = -1; level < dimension.keys.length; level++) next.push([...prefix, level])
    }
    all = next
  }
  const margins = (pattern: number[]): number => pattern.filter((level) => level < 0).length
  return all.sort((a, b) => margins(a) - margins(b))
}

/** A margin not given: the sum over its first additive dimension, whose cells are already counted. */
function marginFromParts (dimensions: readonly BuiltDimension[], pattern: readonly number[], levels: readonly Level[], counts: ReadonlyMap<string, number>): number {
  if (!pattern.includes(-1)) return 0
  const d = pattern.findIndex((level, e) => level < 0 && dimensions[e]?.additive === true)
  if (d < 0) {
    throw new SuppressionInputError(`The margin ${cellKey(levels)} is taken over non-additive dimensions only; give its count.`)
  }
  let sum = 0
  for (const level of dimensions[d]?.keys ?? []) sum += counts.get(cellKey(levels.map((other, e) => e === d ? level : other))) ?? 0
  return sum
}

export interface DistributionSpec {
  options: ReadonlyArray<{ key: string, count: number }>
  /** The number of answers (respondents, incidents); required when `additive` is false. */
  n?: number
  /** False for a multiple-choice question, or incidents that may carry several categories. Default true. */
  additive?: boolean
}

/** A one-way distribution with its total: cells `cellKey([option])` and `cellKey([null])`. */
export function distributionTable (spec: DistributionSpec): SuppressionTable {
  return crossTable({
    dimensions: [{ name: 'option', levels: spec.options.map((option) => option.key), additive: spec.additive !== false }],
    cells: spec.options.map((option) => ({ levels: [option.key], count: option.count })),
    margins: spec.n === undefined ? [] : [{ levels: [null], count: spec.n }]
  })
}

export interface TwoWaySpec {
  rows: readonly string[]
  columns: readonly string[]
  cells: Iterable<{ row: string, column: string, count: number }>
  /** False when a record counts in several rows; then `columnTotals` must be given. Default true. */
  rowsAdditive?: boolean
  /** False when a record counts in several columns; then `rowTotals` must be given. Default true. */
  columnsAdditive?: boolean
  rowTotals?: Iterable<{ row: string, count: number }>
  columnTotals?: Iterable<{ column: string, count: number }>
  grandTotal?: number
}

/**
 * A rows × columns table with row, column and grand totals: cells `cellKey([row, column])`, row totals
 * `cellKey([row, null])`, column totals `cellKey([null, column])`, the grand total `cellKey([null, null])`.
 */
export function twoWayTable (spec: TwoWaySpec): SuppressionTable {
  const margins: Array<{ levels: Level[], count: number }> = []
  for (const { row, count } of spec.rowTotals ?? []) margins.push({ levels: [row, null], count })
  for (const { column, count } of spec.columnTotals ?? []) margins.push({ levels: [null, column], count })
  if (spec.grandTotal !== undefined) margins.push({ levels: [null, null], count: spec.grandTotal })
  return crossTable({
    dimensions: [
      { name: 'row', levels: spec.rows, additive: spec.rowsAdditive !== false },
      { name: 'column', levels: spec.columns, additive: spec.columnsAdditive !== false }
    ],
    cells: [...spec.cells].map(({ row, column, count }) => ({ levels: [row, column], count })),
    margins
  })
}

export interface DistributionOutcome {
  n: CellStatus
  options: Map<string, CellStatus>
}

/** Suppresses one question's distribution (or one category count) and answers it option by option. */
export function suppressDistribution (spec: DistributionSpec, options: SuppressionOptions = {}): DistributionOutcome {
  const result = suppress(distributionTable(spec), options)
  return {
    n: statusOf(result, [null]),
    options: new Map(spec.options.map((option) => [option.key, statusOf(result, [option.key])]))
  }
}

export interface LinkedSpec {
  /** False for a multiple-choice question; then every `n` is required. Default true. */
  additive?: boolean
  /** The question's unbroken results; its options are the options of every group. */
  overall: { options: ReadonlyArray<{ key: string, count: number }>, n?: number }
  /**
   * The same question for each level of the breakdown; an option not listed counts zero. `forced` fixes the
   * state of the group's n where another response shows or hides the same count: the size of the group
   * in the breakdown's own distribution, which every question's group n repeats (exactly, for a question
   * every respondent answers), so that no question gives back a group size the breakdown hides.
   */
  groups: ReadonlyArray<{ key: string, options: ReadonlyArray<{ key: string, count: number }>, n?: number, forced?: ForcedState }>
}

export interface LinkedOutcome {
  overall: DistributionOutcome
  groups: Map<string, DistributionOutcome>
}

/** The level standing for answers that gave no breakdown; a control character keeps it apart from real keys. */
const UNASSIGNED = '\u0000unassigned'

/**
 * A question's results overall and by a breakdown, published together, as linked tables. The overall row
 * is suppressed on its own first, exactly as `suppressDistribution` would, and that pattern is fixed in the
 * linked table, so the unbroken results served alone agree with these. Respondents who answered the
 * question but not the breakdown make up an unpublished group, so that subtraction from the overall counts
 * cannot single them out either.
 */
export function suppressLinked (spec: LinkedSpec, options: SuppressionOptions = {}): LinkedOutcome {
  const additive = spec.additive !== false
  const optionKeys = spec.overall.options.map((option) => option.key)
  const overall = suppressDistribution({ options: spec.overall.options, additive, ...(spec.overall.n === undefined ? {} : { n: spec.overall.n }) }, options)
  const groupKeys = spec.groups.map((group) => group.key)
  if (groupKeys.includes(UNASSIGNED)) throw new SuppressionInputError('A breakdown level has a reserved key.')
  const unassigned = unassignedCounts(spec, additive)
  const levels: Dimension['levels'] = unassigned.any ? [...groupKeys, { key: UNASSIGNED, published: false }] : groupKeys
  const cells: Array<{ levels: string[], count: number }> = []
  const margins: Array<{ levels: Level[], count: number }> = []
  for (const group of spec.groups) {
    for (const option of group.options) cells.push({ levels: [group.key, option.key], count: option.count })
    if (group.n !== undefined) margins.push({ levels: [group.key, null], count: group.n })
  }
  if (unassigned.any) {
    for (const [option, count] of unassigned.options) cells.push({ levels: [UNASSIGNED, option], count })
    if (unassigned.n !== undefined) margins.push({ levels: [UNASSIGNED, null], count: unassigned.n })
  }
  if (spec.overall.n !== undefined) margins.push({ levels: [null, null], count: spec.overall.n })
  const forced = [
    ...optionKeys.map((option) => ({ levels: [null, option], state: forcedState(overall.options.get(option)) })),
    { levels: [null, null], state: forcedState(overall.n) },
    ...spec.groups.flatMap((group) => group.forced === undefined ? [] : [{ levels: [group.key, null], state: group.forced }])
  ]
  const result = suppress(crossTable({
    dimensions: [{ name: 'breakdown', levels }, { name: 'option', levels: optionKeys, additive }],
    cells,
    margins,
    forced
  }), options)
  const distribution = (level: Level): DistributionOutcome => ({
    n: statusOf(result, [level, null]),
    options: new Map(optionKeys.map((option) => [option, statusOf(result, [level, option])]))
  })
  return { overall: distribution(null), groups: new Map(groupKeys.map((key) => [key, distribution(key)])) }
}

function forcedState (status: CellStatus | undefined): ForcedState {
  return status?.suppressed === true ? 'suppressed' : 'shown'
}

/** What the overall counts hold beyond the groups: the answers with no breakdown. */
function unassignedCounts (spec: LinkedSpec, additive: boolean): { any: boolean, n: number | undefined, options: Map<string, number> } {
  const options = new Map<string, number>()
  const known = new Set(spec.overall.options.map((option) => option.key))
  for (const option of spec.overall.options) options.set(option.key, option.count)
  for (const group of spec.groups) {
    for (const option of group.options) {
      if (!known.has(option.key)) throw new SuppressionInputError(`The group ${group.key} has the option ${option.key} the overall results lack.`)
      options.set(option.key, (options.get(option.key) ?? 0) - option.count)
    }
  }
  for (const [option, count] of options) {
    if (count < 0) throw new SuppressionInputError(`The groups count more answers of ${option} than the overall results.`)
  }
  let n: number | undefined
  if (spec.overall.n !== undefined && spec.groups.every((group) => group.n !== undefined)) {
    n = spec.groups.reduce((rest, group) => rest - (group.n ?? 0), spec.overall.n)
    if (n < 0) throw new SuppressionInputError('The groups count more answers than the overall results.')
  } else if (!additive) {
    throw new SuppressionInputError('A non-additive question needs n overall and for every group.')
  }
  const any = (n ?? 0) > 0 || [...options.values()].some((count) => count > 0)
  return { any, n, options }
}

function statusOf (result: SuppressionResult, levels: readonly Level[]): CellStatus {
  const outcome = result.cells.get(cellKey(levels))
  if (outcome === undefined) throw new SuppressionInputError(`The result has no cell ${cellKey(levels)}.`)
  const { key: _key, ...status } = outcome
  return status
}

// ---------------------------------------------------------------------------------------------------------
// Derived values and series

/**
 * A share of a shown count in a shown total, or null: a share computed from a hidden count would give the
 * count back (multiplied by the total), and one over a hidden total gives the total back.
 */
export function shareOf (part: CellStatus, whole: CellStatus): number | null {
  if (part.count === null || whole.count === null || whole.count === 0) return null
  return part.count / whole.count
}

/**
 * A value resting on `basis` records (a mean or median of that many answers), or null when there are
 * fewer than the threshold of them: a mean of two answers describes two people.
 */
export function withholdIfBelow<T> (value: T, basis: number | null | undefined, threshold: number): T | null {
  return basis === null || basis === undefined || basis < threshold ? null : value
}

/**
 * A mean or median of the answers counted in a cell of a suppression result, or null when that count is
 * hidden for any reason or below the threshold. Sums of answers follow the same relations as their counts,
 * so withholding the statistic wherever its count is hidden protects it the way the count is protected.
 */
export function statisticFor<T> (value: T, n: CellStatus, threshold: number): T | null {
  return n.suppressed ? null : withholdIfBelow(value, n.count, threshold)
}

export interface SeriesOptions<P, K extends keyof P> {
  threshold: number
  /** The counts a point's value rests on (a numerator; a denominator when it counts people or incidents). */
  counts: (point: P) => ReadonlyArray<number | null | undefined>
  /** The fields withheld with a suppressed value: numerator, denominator, status and the value itself. */
  withhold: readonly K[]
}

export type SeriesPoint<P, K extends keyof P> = Omit<P, K> & { [F in K]: P[F] | null } & { suppressed: boolean }

/**
 * A KPI series with each period's value withheld when a count it rests on is small. Its status against the
 * target is withheld with it, since on or off track tells which side of the target the value lies. A
 * series has no total within one response, so no complement is needed; a response that also shows the
 * periods' sum is a one-way table and goes through `suppressDistribution` instead.
 */
export function suppressSeries<P extends object, K extends keyof P> (points: readonly P[], options: SeriesOptions<P, K>): Array<SeriesPoint<P, K>> {
  return points.map((point) => {
    const suppressed = options.counts(point).some((count) => typeof count === 'number' && isSmallCount(count, options.threshold))
    const copy: Record<PropertyKey, unknown> = { ...point, suppressed }
    if (suppressed) for (const field of options.withhold) copy[field] = null
    return copy as SeriesPoint<P, K>
  })
}
