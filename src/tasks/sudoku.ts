/**
 * The sudoku task: 4×4 sudoku (rows, columns and the four 2×2 boxes each hold 1-4), written as
 * 4 lines of 4 digits with 0 for a blank. TASKS.md does not spell out the rules; we use full
 * sudoku rules because that is what ParallelBench's prompt states and the spec's example obeys
 * them. Generated puzzles have exactly 4 blanks and a unique solution (checked by the solver).
 * A Latin-rules solution that is unique is unique under sudoku rules too (more rules, fewer
 * solutions), which is why the generator checks the Latin rules only.
 */
import type { Rng } from './rng.js';
import { pyStrip } from './latin-square.js';

export const SUDOKU_SIZE = 4;
const CELLS = SUDOKU_SIZE * SUDOKU_SIZE;

/** A grid as 16 digits in row-major order; 0 marks a blank. */
export type SudokuGrid = readonly number[];

export interface SudokuRules {
  /** Whether the 2×2 boxes must also hold every digit (true = sudoku, false = Latin square). */
  boxes: boolean;
}

/** 4 lines of 4 digits joined by `\n`. */
export function formatSudoku(grid: SudokuGrid): string {
  const rows: string[] = [];
  for (let r = 0; r < SUDOKU_SIZE; r++) rows.push(grid.slice(r * SUDOKU_SIZE, (r + 1) * SUDOKU_SIZE).join(''));
  return rows.join('\n');
}

/** The cells that share a row, a column or (with boxes) a box with each cell. */
function peersTable(boxes: boolean): number[][] {
  const table: number[][] = [];
  for (let i = 0; i < CELLS; i++) {
    const r = Math.floor(i / SUDOKU_SIZE);
    const c = i % SUDOKU_SIZE;
    const peers: number[] = [];
    for (let j = 0; j < CELLS; j++) {
      if (j === i) continue;
      const rj = Math.floor(j / SUDOKU_SIZE);
      const cj = j % SUDOKU_SIZE;
      const sameBox = Math.floor(r / 2) === Math.floor(rj / 2) && Math.floor(c / 2) === Math.floor(cj / 2);
      if (rj === r || cj === c || (boxes && sameBox)) peers.push(j);
    }
    table.push(peers);
  }
  return table;
}
const PEERS = { boxes: peersTable(true), latin: peersTable(false) };

/** Whether the givens (non-zero digits 1-4) break no rule. */
export function givensConsistent(grid: SudokuGrid, rules: SudokuRules): boolean {
  const peers = rules.boxes ? PEERS.boxes : PEERS.latin;
  return grid.every((v, i) => v === 0 || peers[i]?.every((j) => grid[j] !== v));
}

/**
 * Solutions of `puzzle` under `rules`, up to `limit` of them (backtracking; a 4×4 grid is tiny).
 * Returns [] when the givens are inconsistent.
 */
export function solveSudoku(puzzle: SudokuGrid, rules: SudokuRules, limit = 2): number[][] {
  if (puzzle.length !== CELLS || !puzzle.every((v) => Number.isInteger(v) && v >= 0 && v <= SUDOKU_SIZE)) {
    return [];
  }
  if (!givensConsistent(puzzle, rules)) return [];
  const peers = rules.boxes ? PEERS.boxes : PEERS.latin;
  const grid = [...puzzle];
  const out: number[][] = [];
  const search = (from: number): void => {
    let i = from;
    while (i < CELLS && grid[i] !== 0) i++;
    if (i === CELLS) {
      out.push([...grid]);
      return;
    }
    for (let v = 1; v <= SUDOKU_SIZE && out.length < limit; v++) {
      if (peers[i]?.every((j) => grid[j] !== v)) {
        grid[i] = v;
        search(i + 1);
        grid[i] = 0;
      }
    }
  };
  search(0);
  return out;
}

let allGrids: number[][] | undefined;

/** Every complete 4×4 sudoku grid (there are 288), enumerated once. */
export function allSudokuGrids(): readonly (readonly number[])[] {
  allGrids ??= solveSudoku(new Array<number>(CELLS).fill(0), { boxes: true }, Infinity);
  return allGrids;
}

export interface SudokuPuzzle {
  puzzle: number[];
  solution: number[];
}

/**
 * A uniformly chosen complete grid with `blanks` cells blanked, redrawn until the puzzle has a
 * unique solution, and unique even if the box rule is ignored (it then reads the same to a
 * reader, or a model, that only checks rows and columns). With 4 blanks this rejects 0.37% of
 * draws (0.07% only because of the stricter reading), so the distribution barely moves.
 */
export function randomSudoku(rng: Rng, blanks = 4): SudokuPuzzle {
  const cells = [...Array(CELLS).keys()];
  for (;;) {
    const solution = [...rng.choice(allSudokuGrids())];
    const puzzle = [...solution];
    for (const i of rng.sample(cells, blanks)) puzzle[i] = 0;
    if (solveSudoku(puzzle, { boxes: false }).length === 1) return { puzzle, solution };
  }
}

/** Decimal value of a Unicode Nd character: Nd digits come in contiguous runs starting at 0. */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0) as number;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/**
 * ParallelBench's lenient sudoku parser: strip, delete spaces and commas, then keep the stripped
 * non-empty lines holding exactly 4 digits (any other characters ignored; digits as Python's
 * `\d`, i.e. any Unicode decimal digit). A grid needs exactly 4 such lines, else null.
 */
export function parseSudokuLenient(text: string): number[] | null {
  const lines = pyStrip(text)
    .replace(/[ ,]/g, '')
    .split('\n')
    .map(pyStrip)
    .filter((line) => line.length > 0);
  const grid: number[] = [];
  let rows = 0;
  for (const line of lines) {
    const digits = line.match(/\p{Nd}/gu) ?? [];
    if (digits.length === SUDOKU_SIZE) {
      grid.push(...digits.map(digitValue));
      rows++;
    }
  }
  return rows === SUDOKU_SIZE ? grid : null;
}

/** sudoku metric: 1 iff the leniently parsed prediction equals the solution. */
export function scoreSudoku(solution: SudokuGrid, prediction: string): 0 | 1 {
  const grid = parseSudokuLenient(prediction);
  return grid !== null && grid.length === solution.length && grid.every((v, i) => v === solution[i]) ? 1 : 0;
}
