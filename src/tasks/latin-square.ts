/**
 * The latin_square task: given n distinct symbols, write an n×n square as CSV rows in which every
 * row and every column holds each symbol once. Many answers are valid (C(Y|X) > 0), which is why
 * parallel decoding breaks it.
 */
import type { Rng } from './rng.js';

/** Python's `str.strip()` whitespace set (differs from JS `trim`: \x1c-\x1f and \x85 in, \ufeff out). */
const PY_STRIP = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** Rows as CSV lines joined by `\n`, e.g. `A,7,Q,C\n7,Q,C,A\n...`. */
export function formatLatinSquare(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.join(',')).join('\n');
}

/**
 * A random Latin square over `symbols` by randomized backtracking (cells in row-major order, each
 * trying the allowed symbols in random order). Every Latin square can come out; the distribution
 * is close to but not exactly uniform, which is enough for training targets and references.
 */
export function randomLatinSquare(symbols: readonly string[], rng: Rng): string[][] {
  const n = symbols.length;
  const grid: number[] = new Array<number>(n * n).fill(-1);
  const fill = (cell: number): boolean => {
    if (cell === n * n) return true;
    const r = Math.floor(cell / n);
    const c = cell % n;
    const used = new Set<number>();
    for (let k = 0; k < c; k++) used.add(grid[r * n + k] as number);
    for (let k = 0; k < r; k++) used.add(grid[k * n + c] as number);
    const options = rng.shuffle([...Array(n).keys()].filter((s) => !used.has(s)));
    for (const s of options) {
      grid[cell] = s;
      if (fill(cell + 1)) return true;
    }
    grid[cell] = -1;
    return false;
  };
  fill(0);
  return [...Array(n).keys()].map((r) => grid.slice(r * n, r * n + n).map((s) => symbols[s] as string));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/**
 * ParallelBench's latin square metric: keep the non-empty (stripped) lines whose comma-split,
 * stripped cells form exactly the symbol set; need at least n of them; the first n must have
 * every row and every column equal to the set. Columns are Python's `zip(*rows)`, i.e. as many
 * as the shortest kept row; row length itself is not checked (a row may repeat a symbol).
 */
export function scoreLatinSquare(symbols: readonly string[], prediction: string): 0 | 1 {
  const want = new Set(symbols);
  const n = want.size;
  const rows = prediction
    .split('\n')
    .map(pyStrip)
    .filter((line) => line.length > 0)
    .map((line) => line.split(',').map(pyStrip))
    .filter((cells) => sameSet(new Set(cells), want))
    .slice(0, n);
  if (rows.length < n) return 0;
  const width = Math.min(...rows.map((cells) => cells.length));
  for (let c = 0; c < width; c++) {
    if (!sameSet(new Set(rows.map((cells) => cells[c] as string)), want)) return 0;
  }
  return 1;
}
