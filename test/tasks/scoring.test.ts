/** The metrics on hand-written predictions, including ParallelBench's edge cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareCodepoints,
  formatList,
  isValidListItem,
  parseListExact,
  parseListLenient,
  scoreListMatch,
  scoreRandomInsert,
  scoreRandomRemove,
  scoreRandomReplace,
  scoreShuffle,
} from '../../src/tasks/lists.js';
import { scoreLatinSquare } from '../../src/tasks/latin-square.js';
import { parseSudokuLenient, scoreSudoku } from '../../src/tasks/sudoku.js';

const ABC = ['Al A', 'Bo B', 'Cy C'];

test('lenient list parser: last [ to next ], split on commas, strip spaces and quotes, drop empties', () => {
  assert.deepEqual(parseListLenient('["Al A", "Bo B"]'), ['Al A', 'Bo B']);
  assert.deepEqual(parseListLenient('Sure! [x] then ["Al A", "Bo B"] done'), ['Al A', 'Bo B']);
  assert.deepEqual(parseListLenient('[Al A,Bo B'), ['Al A', 'Bo B'], 'no closing bracket: to the end');
  assert.deepEqual(parseListLenient('Al A, Bo B]'), ['Al A', 'Bo B'], 'no opening bracket: from the start');
  assert.deepEqual(parseListLenient('["Al A", "", , "Bo B",]'), ['Al A', 'Bo B']);
  assert.deepEqual(parseListLenient('[ "Al A" ]'), ['Al A']);
  assert.deepEqual(parseListLenient('["Al\tA"]'), ['Al\tA'], 'only spaces and quotes are stripped');
  assert.deepEqual(parseListLenient(''), []);
  assert.deepEqual(parseListLenient('[]'), []);
});

test('formatList is Python\'s join, and exact parsing inverts it', () => {
  assert.equal(formatList(['Paul Payne', 'Robert Riley']), '["Paul Payne", "Robert Riley"]');
  assert.deepEqual(parseListExact('["Paul Payne", "Robert Riley"]'), ['Paul Payne', 'Robert Riley']);
  for (const bad of ['[]', '[""]', '["a",  "b"]', '["a", "b" ]', '["a"b"]', '["a", "b]"]']) {
    assert.equal(parseListExact(bad), null, bad);
  }
  for (const item of ['Paul Payne', 'A', 'Zoë Ñ']) {
    assert.ok(isValidListItem(item));
    assert.deepEqual(parseListLenient(formatList([item, item])), [item, item]);
  }
  for (const item of ['', ' a', 'a ', 'a,b', 'a"b', 'a[b', 'a]b', 'a\nb']) assert.ok(!isValidListItem(item), item);
});

test('list match ignores formatting noise but not content or order', () => {
  assert.equal(scoreListMatch(ABC, '["Al A", "Bo B", "Cy C"]'), 1);
  assert.equal(scoreListMatch(ABC, '[Al A,Bo B,Cy C]'), 1);
  assert.equal(scoreListMatch(ABC, 'The answer is ["Al A", "Bo B", "Cy C"]\n'), 1);
  assert.equal(scoreListMatch(ABC, '["Al A", "Cy C", "Bo B"]'), 0);
  assert.equal(scoreListMatch(ABC, '["Al A", "Bo B"]'), 0);
  assert.equal(scoreListMatch(ABC, '["Al A", "Bo B", "Cy C", "Cy C"]'), 0);
  assert.equal(scoreListMatch(ABC, '["al a", "Bo B", "Cy C"]'), 0);
});

test('codepoint order, as Python sorts str', () => {
  assert.ok(compareCodepoints('Amy Payne', 'Anna Hughes') < 0);
  assert.ok(compareCodepoints('Z', 'a') < 0, 'uppercase before lowercase');
  assert.ok(compareCodepoints('Ann', 'Anna') < 0, 'prefix first');
  assert.ok(compareCodepoints('\uffff', '😀') < 0, 'astral after BMP (UTF-16 order would say otherwise)');
  assert.equal(compareCodepoints('x', 'x'), 0);
});

test('shuffle: same items, different order', () => {
  assert.equal(scoreShuffle(ABC, '["Bo B", "Al A", "Cy C"]'), 1);
  assert.equal(scoreShuffle(ABC, '["Al A", "Bo B", "Cy C"]'), 0, 'unchanged');
  assert.equal(scoreShuffle(ABC, '["Bo B", "Al A"]'), 0, 'item lost');
  assert.equal(scoreShuffle(ABC, '["Bo A", "Al B", "Cy C"]'), 0, 'first and last names swapped between people');
  assert.equal(scoreShuffle(ABC, '["Bo B", "Al A", "Cy C", "Cy C"]'), 0);
});

test('random insert: word present once more than in the input, rest intact', () => {
  for (const ok of ['["W W", "Al A", "Bo B", "Cy C"]', '["Al A", "W W", "Bo B", "Cy C"]', '["Al A", "Bo B", "Cy C", "W W"]']) {
    assert.equal(scoreRandomInsert(ABC, 'W W', ok), 1, ok);
  }
  assert.equal(scoreRandomInsert(ABC, 'W W', '["Al A", "Bo B", "Cy C"]'), 0);
  assert.equal(scoreRandomInsert(ABC, 'W W', '["W W", "Al A", "Bo B", "Cy C", "W W"]'), 0);
  assert.equal(scoreRandomInsert(ABC, 'W W', '["W W", "Bo B", "Al A", "Cy C"]'), 0);
  assert.equal(scoreRandomInsert(ABC, 'W W', '["W W", "Al A", "Bo B"]'), 0);
});

test('random remove: exactly one item gone, order kept', () => {
  for (const ok of ['["Bo B", "Cy C"]', '["Al A", "Cy C"]', '["Al A", "Bo B"]']) assert.equal(scoreRandomRemove(ABC, ok), 1, ok);
  assert.equal(scoreRandomRemove(ABC, '["Cy C", "Al A"]'), 0, 'reordered');
  assert.equal(scoreRandomRemove(ABC, '["Al A"]'), 0, 'two removed');
  assert.equal(scoreRandomRemove(ABC, '["Al A", "Bo B", "Cy C"]'), 0, 'none removed');
  assert.equal(scoreRandomRemove(ABC, '["Al A", "Al A"]'), 0, 'two missing values');
  // ParallelBench's set-difference rule, with a repeated input item
  // (generated and parsed lists never repeat an item, so this only pins the Python semantics)
  assert.equal(scoreRandomRemove(['X', 'Y', 'X'], '["X", "X"]'), 1);
  assert.equal(scoreRandomRemove(['X', 'Y', 'X'], '["Y", "X"]'), 0, 'no value missing from the set');
  assert.equal(scoreRandomRemove(['X', 'Y', 'X'], '["X", "Y"]'), 0, 'no value missing from the set');
});

test('random replace: one position holds the word, others intact', () => {
  for (const ok of ['["W W", "Bo B", "Cy C"]', '["Al A", "W W", "Cy C"]', '["Al A", "Bo B", "W W"]']) {
    assert.equal(scoreRandomReplace(ABC, 'W W', ok), 1, ok);
  }
  assert.equal(scoreRandomReplace(ABC, 'W W', '["W W", "W W", "Cy C"]'), 0, 'two replaced');
  assert.equal(scoreRandomReplace(ABC, 'W W', '["Al A", "Bo B", "Cy C"]'), 0, 'none replaced');
  assert.equal(scoreRandomReplace(ABC, 'W W', '["V V", "Bo B", "Cy C"]'), 0, 'wrong word');
  assert.equal(scoreRandomReplace(ABC, 'W W', '["W W", "Cy C", "Bo B"]'), 0, 'reordered');
  assert.equal(scoreRandomReplace(ABC, 'W W', '["W W", "Bo B", "Cy C", "Dee D"]'), 0, 'longer');
});

test('latin square metric (ParallelBench semantics)', () => {
  const S = ['A', '7', 'Q', 'C'];
  const good = 'A,7,Q,C\n7,Q,C,A\nQ,C,A,7\nC,A,7,Q';
  assert.equal(scoreLatinSquare(S, good), 1);
  assert.equal(scoreLatinSquare(S, good.replace(/,/g, ', ')), 1, 'spaces around cells');
  assert.equal(scoreLatinSquare(S, `Here:\n\n${good}\n`), 1, 'other lines are skipped');
  assert.equal(scoreLatinSquare(S, `${good}\nA,7,Q,C`), 1, 'only the first 4 kept lines count');
  assert.equal(scoreLatinSquare(S, 'A,7,Q,C\nA,7,Q,C\nQ,C,A,7\nC,A,7,Q'), 0, 'repeated row, so repeated column');
  assert.equal(scoreLatinSquare(S, 'A,7,Q,C\n7,Q,C,A\nQ,C,A,7'), 0, 'three rows');
  assert.equal(scoreLatinSquare(S, 'A,7,Q,X\n7,Q,C,A\nQ,C,A,7\nC,A,7,Q'), 0, 'foreign symbol drops the row');
  assert.equal(scoreLatinSquare(S, 'A,7,Q,C,A\n7,Q,C,A,7\nQ,C,A,7,Q\nC,A,7,Q,C'), 1, 'row length is not checked (zip semantics)');
});

test('sudoku metric: 4 lines of 4 digits, spaces and commas ignored', () => {
  const sol = [1, 3, 4, 2, 2, 4, 3, 1, 4, 1, 2, 3, 3, 2, 1, 4];
  assert.equal(scoreSudoku(sol, '1342\n2431\n4123\n3214'), 1);
  assert.equal(scoreSudoku(sol, '1 3 4 2\n2,4,3,1\n4, 1, 2, 3\n3214\n'), 1);
  assert.equal(scoreSudoku(sol, 'Output:\n1342\n2431\n4123\n3214'), 1, 'lines without 4 digits are skipped');
  assert.equal(scoreSudoku(sol, '1342\n2431\n4123\n3241'), 0, 'wrong digits');
  assert.equal(scoreSudoku(sol, '1342\n2431\n4123'), 0);
  assert.equal(scoreSudoku(sol, '1342\n2431\n4123\n3214\n1342'), 0, 'five 4-digit lines');
  assert.equal(scoreSudoku(sol, '1342243141233214'), 0, 'one line');
  assert.deepEqual(parseSudokuLenient('١٣٤٢\n2431\n4123\n3214'), sol, 'any decimal digit, as Python\'s \\d');
});
