import t from 'tap'
import type { Test } from 'tap'
import {
  auditSuppression,
  cellKey,
  crossTable,
  DEFAULT_SMALL_CELL_THRESHOLD,
  distributionTable,
  groupKey,
  isSmallCount,
  shareOf,
  statisticFor,
  suppress,
  suppressDistribution,
  suppressLinked,
  suppressSeries,
  SuppressionInputError,
  twoWayTable,
  withholdIfBelow,
  type CellStatus,
  type Dimension,
  type Level,
  type LinkedSpec,
  type SuppressionResult,
  type SuppressionTable
} from '../../src/lib/suppression.js'

// -------------------------------------------------------------------------------------------------------
// An independent exact check: dense Gaussian elimination over the integers (BigInt, fraction-free, rows
// kept primitive), written here without the module's code. A reader knows every shown cell and every
// group's equation (non-additive groups included, which is stricter than a real reader); the members of a
// group whose shown total is zero are known to be zero. A hidden cell is determined when its unit vector
// lies in the row space of the equations restricted to the hidden cells.

interface Solved {
  /** Hidden cells whose value follows from what is shown. */
  determined: Set<string>
  /** Keys of the primary (small, published) cells among them. */
  exposedPrimary: string[]
  /** Groups with a known total whose unknown members hold a small cell and add up to less than the threshold. */
  smallSums: string[]
}

function absBig (value: bigint): bigint { return value < 0n ? -value : value }
function gcdBig (a: bigint, b: bigint): bigint {
  a = absBig(a); b = absBig(b)
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

function solve (table: SuppressionTable, result: SuppressionResult, threshold: number): Solved {
  const counts = new Map(table.cells.map((cell) => [cell.key, cell.count]))
  const hidden = new Set(table.cells.filter((cell) => result.cells.get(cell.key)?.suppressed !== false).map((cell) => cell.key))
  const knownZero = new Set<string>()
  for (const group of table.groups) {
    if (!hidden.has(group.total) && counts.get(group.total) === 0) for (const member of group.members) knownZero.add(member)
  }
  const unknown = [...hidden].filter((key) => !knownZero.has(key)).sort()
  const column = new Map(unknown.map((key, i) => [key, i]))
  const rows: bigint[][] = []
  for (const group of table.groups) {
    const row = new Array<bigint>(unknown.length).fill(0n)
    let any = false
    const add = (key: string, sign: bigint): void => {
      const c = column.get(key)
      if (c === undefined) return
      row[c] = (row[c] ?? 0n) + sign
      any = true
    }
    add(group.total, 1n)
    for (const member of group.members) add(member, -1n)
    if (any) rows.push(row)
  }
  // Reduced row echelon form.
  const pivots: Array<{ row: bigint[], column: number }> = []
  for (const original of rows) {
    let row = [...original]
    for (const { row: pivotRow, column: c } of pivots) {
      const b = row[c] ?? 0n
      if (b === 0n) continue
      const a = pivotRow[c] ?? 1n
      row = row.map((value, i) => value * a - b * (pivotRow[i] ?? 0n))
    }
    const lead = row.findIndex((value) => value !== 0n)
    if (lead < 0) continue
    const factor = row.reduce((g, value) => gcdBig(g, value), 0n)
    row = row.map((value) => value / factor)
    for (const pivot of pivots) {
      const b = pivot.row[lead] ?? 0n
      if (b === 0n) continue
      const a = row[lead] ?? 1n
      let next = pivot.row.map((value, i) => value * a - b * (row[i] ?? 0n))
      const g = next.reduce((acc, value) => gcdBig(acc, value), 0n)
      if (g > 1n) next = next.map((value) => value / g)
      pivot.row = next
    }
    pivots.push({ row, column: lead })
  }
  const determined = new Set<string>(knownZero)
  for (const { row, column: c } of pivots) {
    if (row.every((value, i) => i === c || value === 0n)) determined.add(unknown[c] ?? '')
  }
  const small = (key: string): boolean => isSmallCount(counts.get(key) ?? 0, threshold)
  const published = new Set(table.cells.filter((cell) => cell.published !== false).map((cell) => cell.key))
  const exposedPrimary = [...determined].filter((key) => small(key) && published.has(key) && hidden.has(key)).sort()
  const known = (key: string): boolean => !hidden.has(key) || determined.has(key)
  const smallSums = table.groups.filter((group) => {
    if (!known(group.total)) return false
    const open = group.members.filter((member) => !known(member))
    return open.some(small) && open.reduce((sum, member) => sum + (counts.get(member) ?? 0), 0) < threshold
  }).map((group) => group.key)
  return { determined, exposedPrimary, smallSums }
}

/** Every small published count is hidden, and every other count is shown unless hidden as a complement. */
function primaryProblems (table: SuppressionTable, result: SuppressionResult, threshold: number): string[] {
  const problems: string[] = []
  for (const cell of table.cells) {
    const outcome = result.cells.get(cell.key)
    if (outcome === undefined) { problems.push(`no outcome for ${cell.key}`); continue }
    if (cell.published === false) {
      if (!outcome.suppressed || outcome.reason !== 'unpublished') problems.push(`${cell.key} is unpublished but shown`)
    } else if (isSmallCount(cell.count, threshold)) {
      if (!outcome.suppressed || outcome.count !== null || outcome.reason !== 'primary') problems.push(`${cell.key} (${cell.count}) must be primary suppressed`)
    } else if (outcome.suppressed) {
      if (outcome.count !== null || outcome.reason !== 'complementary') problems.push(`${cell.key} is hidden without being a complement`)
    } else if (outcome.count !== cell.count) {
      problems.push(`${cell.key} shows ${outcome.count}, not ${cell.count}`)
    }
  }
  return problems
}

function checkPrimary (t: Test, table: SuppressionTable, result: SuppressionResult, threshold: number): void {
  t.same(primaryProblems(table, result, threshold), [], 'small cells hidden, others shown or complements')
}

// A small seeded PRNG (mulberry32), so the random tables are the same on every run.
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

function shuffled<T> (items: readonly T[], random: () => number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const a = copy[i] as T
    copy[i] = copy[j] as T
    copy[j] = a
  }
  return copy
}

const hiddenKeys = (result: SuppressionResult): string[] => [...result.cells.values()].filter((cell) => cell.suppressed).map((cell) => cell.key).sort()
const status = (result: SuppressionResult, levels: Level[]): CellStatus => {
  const found = result.cells.get(cellKey(levels))
  if (found === undefined) throw new Error(`no cell ${cellKey(levels)}`)
  return found
}

// -------------------------------------------------------------------------------------------------------
// Primary suppression

t.test('primary suppression hides 1 to threshold - 1 and shows 0 and the threshold itself', async (t) => {
  t.equal(DEFAULT_SMALL_CELL_THRESHOLD, 10)
  t.same([0, 1, 9, 10, 11].map((n) => isSmallCount(n, 10)), [false, true, true, false, false])
  t.same([0, 1, 4, 5].map((n) => isSmallCount(n, 5)), [false, true, true, false])
  const table = distributionTable({ options: [{ key: 'a', count: 0 }, { key: 'b', count: 10 }, { key: 'c', count: 25 }, { key: 'd', count: 40 }] })
  const result = suppress(table)
  t.same(hiddenKeys(result), [], 'no small count, nothing hidden')
  t.same(status(result, ['a']), { key: cellKey(['a']), count: 0, suppressed: false })
  t.equal(status(result, [null]).count, 75, 'the total of an additive table is computed')
  t.equal(result.threshold, 10)
})

t.test('a small count is null with suppressed: true and the reason, never left out', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 1 }, { key: 'b', count: 30 }, { key: 'c', count: 12 }, { key: 'z', count: 0 }] })
  const result = suppress(table)
  t.same(status(result, ['a']), { key: cellKey(['a']), count: null, suppressed: true, reason: 'primary' })
  t.equal(result.cells.size, table.cells.length, 'every cell comes back')
  t.same([...result.cells.keys()], table.cells.map((cell) => cell.key), 'in the order the table listed them')
  t.same(status(result, ['z']).count, 0, 'a zero is shown')
})

t.test('the threshold is the city\'s: 5 hides 1 to 4 only', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 4 }, { key: 'b', count: 5 }, { key: 'c', count: 7 }, { key: 'd', count: 9 }] })
  const result = suppress(table, { threshold: 5 })
  t.equal(status(result, ['a']).reason, 'primary')
  t.equal(status(result, ['b']).reason, 'complementary', 'the next-smallest protects the single small cell')
  t.same(status(result, ['c']).count, 7)
  t.same(status(result, ['d']).count, 9)
  t.equal(result.threshold, 5)
  t.throws(() => suppress(table, { threshold: 0 }), SuppressionInputError)
  t.throws(() => suppress(table, { threshold: 2.5 }), SuppressionInputError)
})

// -------------------------------------------------------------------------------------------------------
// The subtraction attack

t.test('subtraction attack: a group with one hidden cell gets its next-smallest hidden too', async (t) => {
  // n = 35 shown: hiding only b = 3 would give it back as 35 - 12 - 20 - 0.
  const outcome = suppressDistribution({ options: [{ key: 'a', count: 12 }, { key: 'b', count: 3 }, { key: 'c', count: 0 }, { key: 'd', count: 20 }] })
  t.same(outcome.n, { count: 35, suppressed: false })
  t.same(outcome.options.get('b'), { count: null, suppressed: true, reason: 'primary' })
  t.same(outcome.options.get('a'), { count: null, suppressed: true, reason: 'complementary' }, 'the next-smallest non-zero cell, not the zero')
  t.same(outcome.options.get('c'), { count: 0, suppressed: false })
  t.same(outcome.options.get('d'), { count: 20, suppressed: false })
})

t.test('sum rule: two hidden cells adding up below the threshold get a third', async (t) => {
  // 2 and 3 hidden with 40 shown would still give away "5 between them".
  const table = distributionTable({ options: [{ key: 'a', count: 2 }, { key: 'b', count: 3 }, { key: 'c', count: 15 }, { key: 'd', count: 20 }] })
  const result = suppress(table)
  t.same(hiddenKeys(result), [cellKey(['a']), cellKey(['b']), cellKey(['c'])].sort())
  t.equal(status(result, ['c']).reason, 'complementary')
  t.equal(status(result, [null]).count, 40)
  t.same(auditSuppression(table, result), { recoverable: [], smallHiddenSums: [], revealedShared: [] })
})

t.test('two small cells already adding up to the threshold need no complement', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 4 }, { key: 'b', count: 6 }, { key: 'c', count: 30 }] })
  const result = suppress(table)
  t.same(hiddenKeys(result), [cellKey(['a']), cellKey(['b'])].sort())
})

t.test('when only zeros are left to pair with, the total is withheld', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 3 }, { key: 'b', count: 0 }], n: 12, additive: false })
  const result = suppress(table)
  t.equal(status(result, ['a']).reason, 'primary')
  t.same(status(result, ['b']), { key: cellKey(['b']), count: 0, suppressed: false })
  t.same(result.groups.get(groupKey([null], 'option')), { key: groupKey([null], 'option'), total: null, suppressed: true })
  t.equal(status(result, [null]).reason, 'complementary')
})

t.test('a small total is hidden like any small count, and a small cell under a hidden total needs nothing more', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 3 }, { key: 'b', count: 4 }] })
  const result = suppress(table)
  t.same(hiddenKeys(result), [cellKey(['a']), cellKey(['b']), cellKey([null])].sort())
  t.equal(status(result, [null]).reason, 'primary')
})

t.test('a group where every cell is large or zero is left alone', async (t) => {
  const result = suppress(distributionTable({ options: [{ key: 'a', count: 0 }, { key: 'b', count: 0 }, { key: 'c', count: 14 }] }))
  t.same(hiddenKeys(result), [])
})

// -------------------------------------------------------------------------------------------------------
// Non-additive groups

t.test('multiple choice: members add up to more than the total, and are protected as if they did not', async (t) => {
  // 20 respondents; 15 + 12 + 4 = 31 answers.
  const spec = { options: [{ key: 'a', count: 15 }, { key: 'b', count: 12 }, { key: 'c', count: 4 }], n: 20, additive: false }
  const outcome = suppressDistribution(spec)
  t.same(outcome.n, { count: 20, suppressed: false })
  t.equal(outcome.options.get('c')?.reason, 'primary')
  t.equal(outcome.options.get('b')?.reason, 'complementary', 'the next-smallest, as in an additive group')
  t.same(outcome.options.get('a'), { count: 15, suppressed: false })
  const table = distributionTable(spec)
  t.same(auditSuppression(table, suppress(table)).recoverable, [])
})

t.test('the module refuses tables that contradict their groups', async (t) => {
  t.throws(() => suppress(distributionTable({ options: [{ key: 'a', count: 15 }], n: 10, additive: false })), SuppressionInputError, 'a member above a non-additive total')
  t.throws(() => suppress(distributionTable({ options: [{ key: 'a', count: 15 }, { key: 'b', count: 2 }], n: 16 })), SuppressionInputError, 'an additive total that is not the sum')
  t.throws(() => distributionTable({ options: [{ key: 'a', count: 1 }], additive: false }), SuppressionInputError, 'a non-additive margin needs its count')
  t.throws(() => suppress({ cells: [{ key: 'x', count: -1 }], groups: [] }), SuppressionInputError, 'a negative count')
  t.throws(() => suppress({ cells: [{ key: 'x', count: 1.5 }], groups: [] }), SuppressionInputError, 'a fractional count')
  t.throws(() => suppress({ cells: [{ key: 'x', count: 1 }, { key: 'x', count: 1 }], groups: [] }), SuppressionInputError, 'a key twice')
  t.throws(() => suppress({ cells: [{ key: 'x', count: 1 }], groups: [{ key: 'g', total: 'x', members: ['y'] }] }), SuppressionInputError, 'an unknown member')
  t.throws(() => suppress({ cells: [{ key: 'x', count: 2 }, { key: 'y', count: 2 }], groups: [{ key: 'g', total: 'x', members: ['y', 'y'] }] }), SuppressionInputError, 'a member twice')
})

// -------------------------------------------------------------------------------------------------------
// Tables cut two and three ways

t.test('a two-way table: hidden cells close into a rectangle so that no row or column gives one back', async (t) => {
  const cells = [
    { row: 'north', column: 'yes', count: 3 }, { row: 'north', column: 'no', count: 25 }, { row: 'north', column: 'unsure', count: 14 },
    { row: 'south', column: 'yes', count: 30 }, { row: 'south', column: 'no', count: 22 }, { row: 'south', column: 'unsure', count: 18 },
    { row: 'east', column: 'yes', count: 17 }, { row: 'east', column: 'no', count: 40 }, { row: 'east', column: 'unsure', count: 11 }
  ]
  const table = twoWayTable({ rows: ['north', 'south', 'east'], columns: ['yes', 'no', 'unsure'], cells })
  const result = suppress(table)
  t.equal(status(result, ['north', 'yes']).reason, 'primary')
  // Every row and column holding a hidden cell holds at least two, or its total is hidden.
  for (const group of table.groups) {
    const hidden = group.members.filter((member) => result.cells.get(member)?.suppressed === true)
    const totalHidden = result.cells.get(group.total)?.suppressed === true
    t.ok(hidden.length !== 1 || totalHidden, `${group.key} does not give a single hidden cell away`)
  }
  const check = solve(table, result, 10)
  t.same(check.exposedPrimary, [])
  t.same(check.smallSums, [])
  t.same(auditSuppression(table, result), { recoverable: [], smallHiddenSums: [], revealedShared: [] })
  t.equal(status(result, [null, null]).count, 180, 'the grand total stays shown')
})

t.test('the Gauss step: a cell solvable only from several groups together is protected', async (t) => {
  // Two 2 × 2 rectangles of small cells joined by one small cell (r2, c3). Every row and column holds two
  // or more hidden cells adding up to the threshold or more, so the per-group rules are satisfied; yet the
  // joining cell is a bridge: r1 + r2 give (r2, c3) from the column totals of c1 and c2. Only the
  // elimination sees it.
  const rows = ['r1', 'r2', 'r3', 'r4', 'r5']
  const columns = ['c1', 'c2', 'c3', 'c4', 'c5']
  const grid = [
    [5, 6, 20, 30, 12],
    [5, 6, 4, 25, 40],
    [22, 13, 5, 6, 18],
    [35, 17, 6, 5, 21],
    [14, 28, 16, 19, 33]
  ]
  const cells = rows.flatMap((row, i) => columns.map((column, j) => ({ row, column, count: grid[i]?.[j] ?? 0 })))
  const table = twoWayTable({ rows, columns, cells })
  const primaries = table.cells.filter((cell) => isSmallCount(cell.count, 10)).map((cell) => cell.key)
  t.equal(primaries.length, 9)
  // The checker sees the leak in the primary pattern alone.
  const primaryOnly: SuppressionResult = {
    threshold: 10,
    groups: new Map(),
    cells: new Map(table.cells.map((cell) => [cell.key, primaries.includes(cell.key) ? { key: cell.key, count: null, suppressed: true } : { key: cell.key, count: cell.count, suppressed: false }]))
  }
  t.same(solve(table, primaryOnly, 10).exposedPrimary, [cellKey(['r2', 'c3'])], 'hiding the small cells only lets the joining cell be solved')
  t.same(solve(table, primaryOnly, 10).smallSums, [], 'although no single group gives anything away')
  t.same(auditSuppression(table, primaryOnly).recoverable, [cellKey(['r2', 'c3'])], 'the module\'s audit agrees')
  const result = suppress(table)
  t.ok(hiddenKeys(result).length > primaries.length, 'the elimination hides a complement')
  t.same(solve(table, result, 10).exposedPrimary, [])
  t.same(auditSuppression(table, result), { recoverable: [], smallHiddenSums: [], revealedShared: [] })
  t.equal(status(result, [null, null]).count, grid.flat().reduce((a, b) => a + b, 0), 'the grand total stays shown')
})

t.test('the checker used below catches a leak: a complement shown again gives the small cell back', async (t) => {
  const table = distributionTable({ options: [{ key: 'a', count: 12 }, { key: 'b', count: 3 }, { key: 'c', count: 20 }] })
  const result = suppress(table)
  t.same(solve(table, result, 10).exposedPrimary, [])
  const leaky: SuppressionResult = { ...result, cells: new Map(result.cells).set(cellKey(['a']), { key: cellKey(['a']), count: 12, suppressed: false }) }
  t.same(solve(table, leaky, 10).exposedPrimary, [cellKey(['b'])])
  t.same(auditSuppression(table, leaky).recoverable, [cellKey(['b'])])
  const sumLeak = distributionTable({ options: [{ key: 'a', count: 2 }, { key: 'b', count: 3 }, { key: 'c', count: 20 }] })
  const sumResult: SuppressionResult = { threshold: 10, groups: new Map(), cells: new Map(sumLeak.cells.map((cell) => [cell.key, cell.count < 10 && cell.count > 0 ? { key: cell.key, count: null, suppressed: true } : { key: cell.key, count: cell.count, suppressed: false }])) }
  t.same(solve(sumLeak, sumResult, 10).smallSums, [groupKey([null], 'option')], 'two hidden cells adding up to 5')
})

t.test('crossTable builds every margin of a three-way cut and the result is safe across all of them', async (t) => {
  const dimensions: Dimension[] = [
    { name: 'year', levels: ['2025', '2026'] },
    { name: 'area', levels: ['north', 'south', 'east'] },
    { name: 'bias', levels: ['race', 'religion'] }
  ]
  const random = prng(7)
  const cells: Array<{ levels: string[], count: number }> = []
  for (const year of ['2025', '2026']) {
    for (const area of ['north', 'south', 'east']) {
      for (const bias of ['race', 'religion']) cells.push({ levels: [year, area, bias], count: random() < 0.35 ? 1 + Math.floor(random() * 8) : 10 + Math.floor(random() * 30) })
    }
  }
  const table = crossTable({ dimensions, cells })
  t.equal(table.cells.length, 3 * 4 * 3, 'every combination of levels and margins')
  // Each cell with k margins is the total of k groups: 3 * 12 + 2 * ... counted per dimension.
  t.equal(table.groups.length, 1 * 4 * 3 + 3 * 3 + 3 * 4, 'one group per cell and dimension it is a margin of')
  const grand = table.cells.find((cell) => cell.key === cellKey([null, null, null]))
  t.equal(grand?.count, cells.reduce((sum, cell) => sum + cell.count, 0))
  const result = suppress(table)
  checkPrimary(t, table, result, 10)
  t.same(solve(table, result, 10).exposedPrimary, [])
  t.same(auditSuppression(table, result), { recoverable: [], smallHiddenSums: [], revealedShared: [] })
})

t.test('crossTable: non-additive dimensions need their margins; unpublished levels are hidden but protected', async (t) => {
  // Incidents by area and bias category; one incident may carry two categories.
  const dimensions: Dimension[] = [
    { name: 'area', levels: ['north', 'south', { key: 'unknown', published: false }] },
    { name: 'bias', levels: ['race', 'religion'], additive: false }
  ]
  const cells = [
    { levels: ['north', 'race'], count: 20 }, { levels: ['north', 'religion'], count: 6 },
    { levels: ['south', 'race'], count: 15 }, { levels: ['south', 'religion'], count: 14 },
    { levels: ['unknown', 'race'], count: 2 }, { levels: ['unknown', 'religion'], count: 0 }
  ]
  t.throws(() => crossTable({ dimensions, cells }), SuppressionInputError, 'margins over the bias categories cannot be summed')
  const margins = [
    { levels: ['north', null], count: 24 }, { levels: ['south', null], count: 25 }, { levels: ['unknown', null], count: 2 }
  ]
  const table = crossTable({ dimensions, cells, margins })
  t.equal(table.cells.find((cell) => cell.key === cellKey([null, null]))?.count, 51, 'the grand total sums the areas, not the categories')
  t.equal(table.cells.find((cell) => cell.key === cellKey([null, 'race']))?.count, 37)
  const result = suppress(table)
  t.equal(status(result, ['unknown', 'race']).reason, 'unpublished')
  t.equal(status(result, ['north', 'religion']).reason, 'primary')
  t.same(solve(table, result, 10).exposedPrimary, [])
  t.same(auditSuppression(table, result).recoverable, [])
  t.throws(() => suppress(crossTable({ dimensions, cells, margins: [...margins, { levels: [null, null], count: 50 }] })), SuppressionInputError, 'a given margin is checked when suppressed')
})

// -------------------------------------------------------------------------------------------------------
// Linked tables

const linkedSpec: LinkedSpec = {
  overall: { options: [{ key: 'safe', count: 48 }, { key: 'unsafe', count: 21 }, { key: 'unsure', count: 13 }] },
  groups: [
    { key: 'north', options: [{ key: 'safe', count: 20 }, { key: 'unsafe', count: 3 }, { key: 'unsure', count: 7 }] },
    { key: 'south', options: [{ key: 'safe', count: 18 }, { key: 'unsafe', count: 15 }, { key: 'unsure', count: 4 }] },
    // Two answers with no neighbourhood: the overall counts hold them, the groups do not.
    { key: 'east', options: [{ key: 'safe', count: 10 }, { key: 'unsafe', count: 2 }, { key: 'unsure', count: 1 }] }
  ]
}

/** The linked table as a reader sees it: overall row, each group, and the unassigned answers unpublished. */
function linkedTable (spec: LinkedSpec): SuppressionTable {
  const optionKeys = spec.overall.options.map((option) => option.key)
  const rest = new Map(spec.overall.options.map((option) => [option.key, option.count]))
  for (const group of spec.groups) for (const option of group.options) rest.set(option.key, (rest.get(option.key) ?? 0) - option.count)
  const anyRest = [...rest.values()].some((count) => count > 0)
  const levels: Dimension['levels'] = [...spec.groups.map((group) => group.key), ...(anyRest ? [{ key: 'rest', published: false }] : [])]
  const cells = spec.groups.flatMap((group) => group.options.map((option) => ({ levels: [group.key, option.key], count: option.count })))
  if (anyRest) for (const [option, count] of rest) cells.push({ levels: ['rest', option], count })
  const margins: Array<{ levels: Level[], count: number }> = []
  if (spec.additive === false) {
    for (const group of spec.groups) margins.push({ levels: [group.key, null], count: group.n ?? 0 })
    const restN = spec.groups.reduce((left, group) => left - (group.n ?? 0), spec.overall.n ?? 0)
    if (anyRest || restN > 0) margins.push({ levels: ['rest', null], count: restN })
  }
  return crossTable({ dimensions: [{ name: 'breakdown', levels }, { name: 'option', levels: optionKeys, additive: spec.additive !== false }], cells, margins })
}

/** A suppression result for `linkedTable` read from a linked outcome (the rest row hidden). */
function linkedResult (spec: LinkedSpec, threshold: number): { table: SuppressionTable, result: SuppressionResult } {
  const outcome = suppressLinked(spec, { threshold })
  const table = linkedTable(spec)
  const cells = new Map<string, { key: string, count: number | null, suppressed: boolean }>()
  for (const cell of table.cells) {
    const levels = JSON.parse(cell.key) as Level[]
    const [group, option] = levels
    const distribution = group === null ? outcome.overall : outcome.groups.get(group ?? '')
    const found = distribution === undefined ? undefined : option === null ? distribution.n : distribution.options.get(option ?? '')
    cells.set(cell.key, { key: cell.key, count: found?.count ?? null, suppressed: found?.suppressed ?? true })
  }
  return { table, result: { threshold, cells, groups: new Map() } }
}

t.test('suppressLinked: the overall row agrees with the question suppressed alone, and the breakdown adds no way back', async (t) => {
  const outcome = suppressLinked(linkedSpec)
  const alone = suppressDistribution({ options: linkedSpec.overall.options })
  t.same(outcome.overall, alone, 'the unbroken results are the same served alone or with a breakdown')
  t.equal(outcome.groups.get('north')?.options.get('unsafe')?.reason, 'primary')
  t.equal(outcome.groups.get('east')?.options.get('unsure')?.reason, 'primary')
  t.same(outcome.groups.get('south')?.n, { count: 37, suppressed: false })
  const { table, result } = linkedResult(linkedSpec, 10)
  const check = solve(table, result, 10)
  t.same(check.exposedPrimary, [], 'no small cell follows from the overall results and the groups together')
  t.notOk(check.determined.has(cellKey(['rest', 'unsafe'])), 'nor do the two answers without a neighbourhood')
  t.same(check.smallSums, [])
})

t.test('suppressLinked: a multiple-choice question needs n everywhere and is checked the same way', async (t) => {
  const spec: LinkedSpec = {
    additive: false,
    overall: { n: 60, options: [{ key: 'a', count: 41 }, { key: 'b', count: 30 }, { key: 'c', count: 12 }] },
    groups: [
      { key: 'g1', n: 25, options: [{ key: 'a', count: 20 }, { key: 'b', count: 10 }, { key: 'c', count: 8 }] },
      { key: 'g2', n: 30, options: [{ key: 'a', count: 19 }, { key: 'b', count: 18 }, { key: 'c', count: 3 }] }
    ]
  }
  t.throws(() => suppressLinked({ ...spec, groups: spec.groups.map(({ n: _n, ...group }) => group) }), SuppressionInputError)
  const outcome = suppressLinked(spec)
  t.same(outcome.overall, suppressDistribution({ options: spec.overall.options, n: 60, additive: false }))
  t.equal(outcome.groups.get('g1')?.options.get('c')?.reason, 'primary')
  t.equal(outcome.groups.get('g2')?.options.get('c')?.reason, 'primary')
  t.equal(outcome.overall.options.get('c')?.count, 12, 'the overall count of c is shown, so the two small c cells protect each other or more')
  const c1 = outcome.groups.get('g1')?.options.get('c')
  const c2 = outcome.groups.get('g2')?.options.get('c')
  t.ok(c1?.suppressed === true && c2?.suppressed === true)
  // Five respondents gave no group; they hold 2, 2 and 1 answers of a, b and c, which the overall counts
  // include: none of it, nor the small group cells, follows from what is shown.
  const { table, result } = linkedResult(spec, 10)
  t.equal(table.cells.find((cell) => cell.key === cellKey(['rest', null]))?.count, 5)
  const check = solve(table, result, 10)
  t.same(check.exposedPrimary, [])
  t.same(check.smallSums, [])
  t.notOk(check.determined.has(cellKey(['rest', 'c'])))
  t.throws(() => suppressLinked({ ...spec, groups: [{ ...spec.groups[0] as LinkedSpec['groups'][number], n: 70 }] }), SuppressionInputError, 'groups that count more than the whole')
})

t.test('suppressLinked: a group the rules cannot complete gets a cell of another group hidden, a zero if need be', async (t) => {
  // Downtown: 12 fours and 8 fives. Its 8 is small, its 12 the only partner; but the column of 4 shows 12
  // overall and zeros elsewhere, so the 12 is solved and the 8 with it. The group sizes of the west side and
  // the south end are fixed as hidden (a breakdown's own results hide them), the overall row as the question
  // alone shows it: the only way left is to hide a zero in the column of 4.
  const points = ['1', '2', '3', '4', '5']
  const row = (values: Record<string, number>): Array<{ key: string, count: number }> => points.map((key) => ({ key, count: values[key] ?? 0 }))
  const spec: LinkedSpec = {
    overall: { options: row({ 1: 3, 2: 10, 3: 5, 4: 12, 5: 8 }) },
    groups: [
      { key: 'downtown', options: row({ 4: 12, 5: 8 }), forced: 'shown' },
      { key: 'west', options: row({ 2: 10, 3: 5 }), forced: 'suppressed' },
      { key: 'south', options: row({ 1: 3 }), forced: 'suppressed' }
    ]
  }
  const outcome = suppressLinked(spec)
  t.same(outcome.groups.get('downtown')?.n, { count: 20, suppressed: false })
  t.equal(outcome.groups.get('west')?.n.suppressed, true)
  t.equal(outcome.groups.get('south')?.n.suppressed, true)
  t.equal(outcome.groups.get('downtown')?.options.get('4')?.suppressed, true)
  const zerosHidden = ['west', 'south'].filter((group) => outcome.groups.get(group)?.options.get('4')?.suppressed === true)
  t.ok(zerosHidden.length >= 1, 'a zero in the column of 4 is hidden')
  const { table, result } = linkedResult(spec, 10)
  const check = solve(table, result, 10)
  t.same(check.exposedPrimary, [])
  t.same(check.smallSums, [], 'downtown\'s hidden cells no longer add up to a known 8')
})

t.test('suppressLinked: what the fixed cells give away by themselves is not chased by hiding cells for nothing', async (t) => {
  // Three respondents gave no group and all answered no. Every group size is shown (fixed), so their number
  // is 38 − 20 − 15 whatever this table hides: hiding the groups' yes would protect nothing.
  const o = (yes: number, no: number): Array<{ key: string, count: number }> => [{ key: 'yes', count: yes }, { key: 'no', count: no }]
  const outcome = suppressLinked({
    overall: { options: o(35, 3) },
    groups: [{ key: 'd', options: o(20, 0), forced: 'shown' }, { key: 'w', options: o(15, 0), forced: 'shown' }, { key: 's', options: o(0, 0), forced: 'shown' }]
  })
  t.same([outcome.overall.options.get('yes')?.suppressed, outcome.overall.options.get('no')?.suppressed], [true, true])
  t.same([...outcome.groups.values()].map((group) => [...group.options.values()].map((cell) => cell.count)), [[20, 0], [15, 0], [0, 0]])
})

t.test('suppressLinked: groups with an option the overall results lack are refused', async (t) => {
  t.throws(() => suppressLinked({ overall: { options: [{ key: 'a', count: 20 }] }, groups: [{ key: 'g', options: [{ key: 'b', count: 3 }] }] }), SuppressionInputError)
  t.throws(() => suppressLinked({ overall: { options: [{ key: 'a', count: 2 }] }, groups: [{ key: 'g', options: [{ key: 'a', count: 3 }] }] }), SuppressionInputError)
})

// -------------------------------------------------------------------------------------------------------
// Shares, means and series

t.test('shares and means are withheld with their counts', async (t) => {
  const outcome = suppressDistribution({ options: [{ key: 'a', count: 12 }, { key: 'b', count: 3 }, { key: 'c', count: 20 }] })
  const n = outcome.n
  t.equal(shareOf(outcome.options.get('c') as CellStatus, n), 20 / 35)
  t.equal(shareOf(outcome.options.get('b') as CellStatus, n), null, 'a share of a hidden count')
  t.equal(shareOf(outcome.options.get('a') as CellStatus, n), null, 'a share of a complement')
  t.equal(shareOf({ count: 3, suppressed: false }, { count: null, suppressed: true }), null, 'a share over a hidden total')
  t.equal(shareOf({ count: 0, suppressed: false }, { count: 0, suppressed: false }), null, 'no share of nothing')
  t.equal(statisticFor(4.2, { count: 12, suppressed: false }, 10), 4.2)
  t.equal(statisticFor(4.2, { count: 9, suppressed: false }, 10), null, 'fewer answers than the threshold')
  t.equal(statisticFor(4.2, { count: null, suppressed: true }, 10), null, 'a hidden count')
  t.equal(statisticFor(4.2, { count: 40, suppressed: true }, 10), null, 'suppressed wins over the count')
  t.equal(withholdIfBelow('x', 10, 10), 'x')
  t.equal(withholdIfBelow('x', 9, 10), null)
  t.equal(withholdIfBelow('x', 0, 10), null, 'a statistic of no answers is withheld')
  t.equal(withholdIfBelow('x', null, 10), null)
  t.equal(withholdIfBelow('x', undefined, 10), null)
})

t.test('a series withholds a period\'s value, status and counts when a count it rests on is small', async (t) => {
  const points = [
    { period: '2026-01', numerator: 12, denominator: 40, value: 0.3, status: 'on_track' },
    { period: '2026-02', numerator: 3, denominator: 40, value: 0.075, status: 'off_track' },
    { period: '2026-03', numerator: 0, denominator: 40, value: 0, status: 'off_track' },
    { period: '2026-04', numerator: 20, denominator: 7, value: 2.857, status: 'on_track' }
  ]
  const series = suppressSeries(points, { threshold: 10, counts: (point) => [point.numerator, point.denominator], withhold: ['numerator', 'denominator', 'value', 'status'] })
  t.same(series.map((point) => point.suppressed), [false, true, false, true])
  t.same(series[0], { ...points[0], suppressed: false })
  t.same(series[1], { period: '2026-02', numerator: null, denominator: null, value: null, status: null, suppressed: true })
  t.same(series[2], { ...points[2], suppressed: false }, 'a zero is shown')
  t.equal(series[3]?.period, '2026-04', 'fields not withheld are kept')
  t.equal(series[3]?.value, null)
  const lenient = suppressSeries(points, { threshold: 3, counts: (point) => [point.numerator], withhold: ['value'] })
  t.same(lenient.map((point) => point.suppressed), [false, false, false, false])
  t.same(suppressSeries([{ n: null as number | null, v: 1 }], { threshold: 10, counts: (point) => [point.n], withhold: ['v'] }), [{ n: null, v: 1, suppressed: false }], 'a missing count is not a small one')
})

// -------------------------------------------------------------------------------------------------------
// Determinism and the property over random tables

interface Generated { table: SuppressionTable, threshold: number, describe: string }

function smallish (random: () => number): number {
  const roll = random()
  if (roll < 0.25) return 0
  if (roll < 0.6) return 1 + Math.floor(random() * 9)
  return 10 + Math.floor(random() * 40)
}

/** A random table cut one, two or three ways, additive or not (records counted in several levels). */
function generate (random: () => number): Generated {
  const threshold = random() < 0.7 ? 10 : 3 + Math.floor(random() * 10)
  const ways = 1 + Math.floor(random() * 3)
  const sizes = Array.from({ length: ways }, () => 2 + Math.floor(random() * (ways === 3 ? 2 : ways === 2 ? 4 : 6)))
  const nonAdditive = random() < 0.3 ? ways - 1 : -1
  const dimensions: Dimension[] = sizes.map((size, d) => ({
    name: `d${d}`,
    levels: Array.from({ length: size }, (_, l) => `d${d}l${l}`),
    additive: d !== nonAdditive
  }))
  if (nonAdditive < 0) {
    const cells: Array<{ levels: string[], count: number }> = []
    const walk = (prefix: string[]): void => {
      if (prefix.length === ways) { cells.push({ levels: prefix, count: smallish(random) }); return }
      for (const level of dimensions[prefix.length]?.levels as string[]) walk([...prefix, level])
    }
    walk([])
    return { table: crossTable({ dimensions, cells }), threshold, describe: `${sizes.join('×')} additive` }
  }
  // Records, each in one level of every additive dimension and in one or more levels of the last.
  const inner = new Map<string, number>()
  const margin = new Map<string, number>()
  const records = Math.floor(random() * 120)
  const lastLevels = dimensions[nonAdditive]?.levels as string[]
  const prefixes: string[][] = [[]]
  for (let d = 0; d < ways - 1; d++) {
    const next: string[][] = []
    for (const prefix of prefixes.splice(0)) for (const level of dimensions[d]?.levels as string[]) next.push([...prefix, level])
    prefixes.push(...next)
  }
  const weights = prefixes.map(() => random() ** 3)
  const totalWeight = weights.reduce((a, b) => a + b, 0)
  for (let r = 0; r < records; r++) {
    let pick = random() * totalWeight
    let index = 0
    while (index < weights.length - 1 && pick > (weights[index] ?? 0)) { pick -= weights[index] ?? 0; index++ }
    const prefix = prefixes[index] as string[]
    const chosen = lastLevels.filter(() => random() < 0.45)
    if (chosen.length === 0) chosen.push(lastLevels[Math.floor(random() * lastLevels.length)] as string)
    for (const level of chosen) inner.set(cellKey([...prefix, level]), (inner.get(cellKey([...prefix, level])) ?? 0) + 1)
    margin.set(cellKey([...prefix, null]), (margin.get(cellKey([...prefix, null])) ?? 0) + 1)
  }
  const cells = prefixes.flatMap((prefix) => lastLevels.map((level) => ({ levels: [...prefix, level], count: inner.get(cellKey([...prefix, level])) ?? 0 })))
  const margins = prefixes.map((prefix) => ({ levels: [...prefix, null] as Level[], count: margin.get(cellKey([...prefix, null])) ?? 0 }))
  return { table: crossTable({ dimensions, cells, margins }), threshold, describe: `${sizes.join('×')} with d${nonAdditive} non-additive` }
}

t.test('the same table in any order of cells and groups gives the same answer', async (t) => {
  const random = prng(2026)
  for (let i = 0; i < 40; i++) {
    const { table, threshold, describe } = generate(random)
    const expected = suppress(table, { threshold })
    const again = suppress({ cells: shuffled(table.cells, random), groups: shuffled(table.groups, random).map((group) => ({ ...group, members: shuffled(group.members, random) })) }, { threshold })
    const byKey = (result: SuppressionResult): Array<[string, unknown]> => [...result.cells.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1)
    t.same(byKey(again), byKey(expected), `table ${i} (${describe})`)
  }
})

t.test('property: over many random tables, no primary cell is determined by the published cells and the groups', async (t) => {
  const random = prng(20261202)
  let checked = 0
  let withPrimary = 0
  let withComplement = 0
  for (let i = 0; i < 300; i++) {
    const { table, threshold, describe } = generate(random)
    const result = suppress(table, { threshold })
    const label = `table ${i} (${describe}, threshold ${threshold})`
    const problems = primaryProblems(table, result, threshold)
    const check = solve(table, result, threshold)
    if (check.exposedPrimary.length > 0) problems.push(`${check.exposedPrimary.join(', ')} can be solved`)
    if (check.smallSums.length > 0) problems.push(`hidden cells of ${check.smallSums.join(', ')} add up below the threshold`)
    const audit = auditSuppression(table, result)
    if (audit.recoverable.length + audit.smallHiddenSums.length > 0) problems.push(`the module's own audit finds ${JSON.stringify(audit)}`)
    if (problems.length > 0) t.fail(`${label}: ${problems.join('; ')}`)
    else checked++
    const reasons = [...result.cells.values()].map((cell) => cell.reason)
    if (reasons.includes('primary')) withPrimary++
    if (reasons.includes('complementary')) withComplement++
  }
  t.equal(checked, 300, 'every table passes')
  t.ok(withPrimary > 200, `the tables exercise primary suppression (${withPrimary})`)
  t.ok(withComplement > 150, `and complementary suppression (${withComplement})`)
})

t.test('property: suppressLinked over random breakdowns leaves nothing solvable from the overall and the groups together', async (t) => {
  const random = prng(99)
  for (let i = 0; i < 200; i++) {
    const threshold = random() < 0.7 ? 10 : 5
    const options = Array.from({ length: 2 + Math.floor(random() * 4) }, (_, o) => `o${o}`)
    const groupKeys = Array.from({ length: 2 + Math.floor(random() * 4) }, (_, g) => `g${g}`)
    const groups = groupKeys.map((key) => ({ key, options: options.map((option) => ({ key: option, count: smallish(random) })) }))
    const unassigned = options.map(() => random() < 0.3 ? Math.floor(random() * 4) : 0)
    const overall = { options: options.map((option, o) => ({ key: option, count: groups.reduce((sum, group) => sum + (group.options[o]?.count ?? 0), 0) + (unassigned[o] ?? 0) })) }
    // Half the specs fix each group's n the way a breakdown's own distribution shows its sizes (survey
    // results: every question's group n repeats the breakdown's counts).
    const sizes = suppressDistribution({ options: groups.map((group) => ({ key: group.key, count: group.options.reduce((sum, option) => sum + option.count, 0) })) }, { threshold })
    const forcedGroups = i % 2 === 0
      ? groups.map((group) => ({ ...group, forced: sizes.options.get(group.key)?.suppressed === true ? 'suppressed' as const : 'shown' as const }))
      : groups
    const spec: LinkedSpec = { overall, groups: forcedGroups }
    const outcome = suppressLinked(spec, { threshold })
    t.same(outcome.overall, suppressDistribution({ options: overall.options }, { threshold }), `spec ${i}: overall agrees with the question alone`)
    const { table, result } = linkedResult(spec, threshold)
    const check = solve(table, result, threshold)
    if (check.exposedPrimary.length > 0) t.fail(`spec ${i}: ${check.exposedPrimary.join(', ')} can be solved`)
    // With every group's n fixed by the breakdown, the answers without a group number the overall n minus
    // the groups' (public already, as the two unbroken totals' difference); their cells stay unsolvable.
    const restRow = groupKey(['rest', null], 'option')
    const smallSums = i % 2 === 0 ? check.smallSums.filter((key) => key !== restRow) : check.smallSums
    if (smallSums.length > 0) t.fail(`spec ${i}: hidden sums below the threshold in ${smallSums.join(', ')}`)
    if (i % 2 === 0) {
      for (const group of groups) {
        const n = outcome.groups.get(group.key)?.n
        if (sizes.options.get(group.key)?.suppressed === true && n?.suppressed !== true) t.fail(`spec ${i}: the size of ${group.key} is hidden by the breakdown but shown here`)
      }
    }
  }
})
