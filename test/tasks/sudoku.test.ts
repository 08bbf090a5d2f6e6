import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allSudokuGrids, formatSudoku, randomSudoku, solveSudoku } from '../../src/tasks/sudoku.js';
import { generateSuite } from '../../src/tasks/suite.js';
import { Rng } from '../../src/tasks/rng.js';

/** An independent check of a complete grid: rows, columns and 2×2 boxes each hold 1-4. */
function isSolved(g: readonly number[], boxes: boolean): boolean {
  const groups: number[][] = [];
  for (let k = 0; k < 4; k++) {
    groups.push([0, 1, 2, 3].map((j) => k * 4 + j), [0, 1, 2, 3].map((j) => j * 4 + k));
    if (boxes) {
      const r = Math.floor(k / 2) * 2;
      const c = (k % 2) * 2;
      groups.push([r * 4 + c, r * 4 + c + 1, (r + 1) * 4 + c, (r + 1) * 4 + c + 1]);
    }
  }
  return groups.every((cells) => [...cells.map((i) => g[i])].sort().join('') === '1234');
}

/** Brute force: every filling of the blanks with 1-4, counted if it solves the grid. */
function bruteForceSolutions(puzzle: readonly number[], boxes: boolean): number[][] {
  const blanks = puzzle.flatMap((v, i) => (v === 0 ? [i] : []));
  const out: number[][] = [];
  for (let code = 0; code < 4 ** blanks.length; code++) {
    const g = [...puzzle];
    blanks.forEach((cell, k) => (g[cell] = (Math.floor(code / 4 ** k) % 4) + 1));
    if (isSolved(g, boxes)) out.push(g);
  }
  return out;
}

test('there are 288 complete 4×4 sudoku grids, all valid and distinct', () => {
  const grids = allSudokuGrids();
  assert.equal(grids.length, 288);
  assert.ok(grids.every((g) => isSolved(g, true)));
  assert.equal(new Set(grids.map((g) => g.join(''))).size, 288);
});

test('generated puzzles: 4 blanks, givens from the solution, unique solution even without the box rule', () => {
  const puzzles = generateSuite({ seed: 11, n: 300, tasks: ['sudoku'] });
  const rng = new Rng(4);
  for (let i = 0; i < 200; i++) puzzles.push({ ...puzzles[0]!, input: randomSudoku(rng) } as (typeof puzzles)[number]);
  for (const inst of puzzles) {
    if (inst.task !== 'sudoku') continue;
    const { puzzle, solution } = inst.input;
    assert.equal(puzzle.filter((v) => v === 0).length, 4);
    assert.ok(puzzle.every((v, i) => v === 0 || v === solution[i]));
    assert.deepEqual(bruteForceSolutions(puzzle, true), [solution], formatSudoku(puzzle));
    assert.deepEqual(bruteForceSolutions(puzzle, false), [solution], formatSudoku(puzzle));
  }
  // puzzles vary
  assert.ok(new Set(puzzles.map((p) => (p.task === 'sudoku' ? p.input.puzzle.join('') : ''))).size > 400);
});

test('the solver agrees with brute force, including ambiguous and impossible grids', () => {
  const rng = new Rng(8);
  const cells = [...Array(16).keys()];
  let ambiguous = 0;
  for (let t = 0; t < 150; t++) {
    const puzzle = [...rng.choice(allSudokuGrids())];
    for (const i of rng.sample(cells, rng.int(3, 6))) puzzle[i] = 0;
    for (const boxes of [true, false]) {
      const brute = bruteForceSolutions(puzzle, boxes);
      const solved = solveSudoku(puzzle, { boxes }, Infinity);
      assert.deepEqual(solved.map((g) => g.join('')).sort(), brute.map((g) => g.join('')).sort());
      if (brute.length > 1) ambiguous++;
    }
  }
  assert.ok(ambiguous > 0, 'the sample includes ambiguous puzzles');
  assert.deepEqual(solveSudoku([1, 1, ...new Array<number>(14).fill(0)], { boxes: true }), []);
  assert.equal(solveSudoku(new Array<number>(16).fill(0), { boxes: true }).length, 2, 'limit defaults to 2');
});
