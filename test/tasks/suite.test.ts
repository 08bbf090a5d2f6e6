import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  formatPrompt,
  generateInstance,
  generateSuite,
  isZeroEntropy,
  parsePrompt,
  sampleReference,
  scoreAnswer,
  scoreSuite,
  TASK_NAMES,
  ZERO_ENTROPY_TASKS,
  type TaskInstance,
  type TaskName,
} from '../../src/tasks/suite.js';
import { nameLists } from '../../src/tasks/names.js';
import { promptText, normalizePrompt } from '../../src/tasks/format.js';
import { formatList } from '../../src/tasks/lists.js';
import { Rng } from '../../src/tasks/rng.js';
import { InputError, OptionError } from '../../src/errors.js';

/** 20 seeds × 40 instances per task = 9,600 instances. */
const SUITES = Array.from({ length: 20 }, (_, seed) => generateSuite({ seed, n: 40 }));
const ALL = SUITES.flat();
const byTask = (task: TaskName): TaskInstance[] => ALL.filter((i) => i.task === task);

test('name lists are copied verbatim, duplicates kept', () => {
  const { first, last, full } = nameLists();
  assert.equal(first.length, 92);
  assert.equal(last.length, 192);
  assert.equal(full.length, 92 * 192);
  assert.equal(last.filter((n) => n === 'Price').length, 2);
  assert.equal(last.filter((n) => n === 'West').length, 2);
  for (const file of ['first_names.txt', 'last_names.txt']) {
    const mine = readFileSync(new URL(`../../src/tasks/data/${file}`, import.meta.url), 'utf8');
    let shared: string | null = null;
    try {
      shared = readFileSync(new URL(`../../../shared/data/${file}`, import.meta.url), 'utf8');
    } catch {
      // ../shared is optional (the repo is self-contained); compare only where it exists.
    }
    if (shared !== null) assert.equal(mine, shared, file);
  }
});

test('task names and entropy groups', () => {
  assert.deepEqual(
    [...TASK_NAMES],
    ['copy', 'sort', 'reverse', 'shuffle', 'insert_index', 'insert_random', 'remove_index', 'remove_random', 'replace_index', 'replace_random', 'latin_square', 'sudoku'],
  );
  assert.deepEqual([...ZERO_ENTROPY_TASKS].sort(), ['copy', 'insert_index', 'remove_index', 'replace_index', 'reverse', 'sort', 'sudoku']);
});

test('generateSuite: n per task, in task order, unique ids', () => {
  const suite = SUITES[0] as TaskInstance[];
  assert.equal(suite.length, 40 * TASK_NAMES.length);
  assert.deepEqual([...new Set(suite.map((i) => i.task))], [...TASK_NAMES]);
  assert.equal(new Set(suite.map((i) => i.id)).size, suite.length);
  assert.equal(suite[0]?.id, 'copy-0-0');
});

test('generateSuite is deterministic; subsets and larger n keep the same instances', () => {
  const a = generateSuite({ seed: 123, n: 10 });
  assert.deepEqual(generateSuite({ seed: 123, n: 10 }), a);
  assert.notDeepEqual(generateSuite({ seed: 124, n: 10 }), a);
  const sub = generateSuite({ seed: 123, n: 10, tasks: ['sudoku', 'copy'] });
  assert.deepEqual(sub, [...a.filter((i) => i.task === 'sudoku'), ...a.filter((i) => i.task === 'copy')]);
  const more = generateSuite({ seed: 123, n: 15, tasks: ['shuffle'] });
  assert.deepEqual(more.slice(0, 10), a.filter((i) => i.task === 'shuffle'));
});

test('generateSuite rejects bad options', () => {
  assert.throws(() => generateSuite({ seed: 1.5, n: 1 }), OptionError);
  assert.throws(() => generateSuite({ seed: 1, n: -1 }), OptionError);
  assert.throws(() => generateSuite({ seed: 1, n: 1, tasks: ['nope' as TaskName] }), /nope/);
  assert.throws(() => generateSuite({ seed: 1, n: 1, tasks: ['copy', 'copy'] }), OptionError);
});

test('waiting-line instances follow the spec', () => {
  const names = new Set(nameLists().full);
  for (const inst of ALL) {
    if (inst.task === 'latin_square' || inst.task === 'sudoku') continue;
    const { items } = inst.input;
    assert.ok(items.length >= 3 && items.length <= 6, inst.id);
    assert.ok(items.every((x) => names.has(x)), inst.id);
    assert.equal(new Set(items.map((x) => x.split(' ')[0])).size, items.length, `${inst.id}: distinct first names`);
    assert.equal(new Set(items.map((x) => x.split(' ')[1])).size, items.length, `${inst.id}: distinct last names`);
    if ('word' in inst.input) {
      assert.ok(names.has(inst.input.word) && !items.includes(inst.input.word), inst.id);
    }
    if ('index' in inst.input) {
      const max = inst.task === 'insert_index' ? items.length : items.length - 1;
      assert.ok(inst.input.index >= 0 && inst.input.index <= max, inst.id);
    }
  }
  // n covers 3..6 and insert_index reaches index n (append)
  assert.deepEqual([...new Set(byTask('copy').map((i) => (i.input as { items: string[] }).items.length))].sort(), [3, 4, 5, 6]);
  assert.ok(byTask('insert_index').some((i) => i.task === 'insert_index' && i.input.index === i.input.items.length));
});

test('latin_square and sudoku instances follow the spec', () => {
  for (const inst of byTask('latin_square')) {
    if (inst.task !== 'latin_square') continue;
    const { symbols } = inst.input;
    assert.equal(symbols.length, 4);
    assert.equal(new Set(symbols).size, 4);
    assert.ok(symbols.every((s) => /^[A-Z0-9]$/.test(s)), inst.prompt);
    assert.match(inst.prompt, /^latin_square \[[A-Z0-9], [A-Z0-9], [A-Z0-9], [A-Z0-9]\]:$/);
  }
  for (const inst of byTask('sudoku')) {
    if (inst.task !== 'sudoku') continue;
    assert.match(inst.prompt, /^sudoku:\n[0-4]{4}\n[0-4]{4}\n[0-4]{4}\n[0-4]{4}$/);
    assert.equal(inst.input.puzzle.filter((v) => v === 0).length, 4, inst.prompt);
    assert.match(inst.reference, /^[1-4]{4}\n[1-4]{4}\n[1-4]{4}\n[1-4]{4}$/);
  }
});

test('every generated reference scores 1', () => {
  for (const inst of ALL) assert.equal(scoreAnswer(inst, inst.reference), 1, `${inst.id}: ${inst.reference}`);
});

test('sampled references of C(Y|X) > 0 tasks vary and all score 1; C(Y|X) = 0 ones do not vary', () => {
  const rng = new Rng(5);
  for (const inst of SUITES[1] as TaskInstance[]) {
    const refs = new Set(Array.from({ length: 30 }, () => sampleReference(inst, rng)));
    for (const ref of refs) assert.equal(scoreAnswer(inst, ref), 1, `${inst.id}: ${ref}`);
    if (isZeroEntropy(inst.task)) assert.deepEqual([...refs], [inst.reference], inst.id);
    else assert.ok(refs.size > 1, `${inst.id} has a single reference`);
  }
});

test('parsePrompt round-trips every generated prompt, with or without a trailing newline', () => {
  for (const inst of ALL) {
    for (const prompt of [inst.prompt, `${inst.prompt}\n`]) {
      const parsed = parsePrompt(prompt);
      assert.equal(parsed.task, inst.task);
      assert.deepEqual(parsed.input, inst.input, inst.id);
      assert.equal(parsed.prompt, inst.prompt);
      assert.equal(formatPrompt(parsed), inst.prompt);
      if (isZeroEntropy(inst.task)) assert.equal(parsed.reference, inst.reference, inst.id);
      assert.equal(scoreAnswer(parsed, parsed.reference), 1);
      assert.equal(scoreAnswer(parsed, inst.reference), 1);
    }
  }
  // the same prompt always parses to the same instance (id and reference included)
  const p = (SUITES[2] as TaskInstance[]).find((i) => i.task === 'latin_square') as TaskInstance;
  assert.deepEqual(parsePrompt(p.prompt), parsePrompt(`${p.prompt}\n`));
});

test("the spec's literal examples parse", () => {
  const copy = parsePrompt('copy: ["Paul Payne", "Robert Riley", "Peter Stone"]');
  assert.equal(copy.task, 'copy');
  assert.deepEqual(copy.input, { items: ['Paul Payne', 'Robert Riley', 'Peter Stone'] });
  assert.equal(copy.reference, '["Paul Payne", "Robert Riley", "Peter Stone"]');

  const latin = parsePrompt('latin_square [A, 7, Q, C]:');
  assert.deepEqual(latin.input, { symbols: ['A', '7', 'Q', 'C'] });
  assert.equal(scoreAnswer(latin, latin.reference), 1);
  assert.equal(scoreAnswer(latin, 'A,7,Q,C\n7,Q,C,A\nQ,C,A,7\nC,A,7,Q'), 1);

  const sudoku = parsePrompt('sudoku:\n0042\n2031\n4023\n3214\n');
  assert.equal(sudoku.task, 'sudoku');
  assert.equal(sudoku.reference, '1342\n2431\n4123\n3214');

  // A grid that breaks the box rule is still solved as a Latin puzzle when that is unique.
  const latinOnly = parsePrompt('sudoku:\n0234\n2041\n3402\n4120');
  assert.equal(latinOnly.reference, '1234\n2341\n3412\n4123');

  // ParallelBench's sort example: by the whole string (so by first name)
  const sort = parsePrompt('sort: ["Eric Lee", "Laura Burke", "Carol Wood"]');
  assert.equal(sort.reference, '["Carol Wood", "Eric Lee", "Laura Burke"]');

  const examples: Array<[string, TaskName]> = [
    ['reverse: ["Paul Payne", "Robert Riley"]', 'reverse'],
    ['shuffle: ["Paul Payne", "Robert Riley"]', 'shuffle'],
    ['insert_index 2 "Peter Stone": ["Paul Payne", "Robert Riley"]', 'insert_index'],
    ['insert_random "Peter Stone": ["Paul Payne", "Robert Riley"]', 'insert_random'],
    ['remove_index 0: ["Paul Payne", "Robert Riley"]', 'remove_index'],
    ['remove_random: ["Paul Payne", "Robert Riley"]', 'remove_random'],
    ['replace_index 1 "Peter Stone": ["Paul Payne", "Robert Riley"]', 'replace_index'],
    ['replace_random "Peter Stone": ["Paul Payne", "Robert Riley"]', 'replace_random'],
  ];
  for (const [prompt, task] of examples) assert.equal(parsePrompt(prompt).task, task);
  assert.equal(parsePrompt(examples[2]![0]).reference, '["Paul Payne", "Robert Riley", "Peter Stone"]');
  assert.equal(parsePrompt(examples[4]![0]).reference, '["Robert Riley"]');
  assert.equal(parsePrompt(examples[6]![0]).reference, '["Paul Payne", "Peter Stone"]');
});

test('parsePrompt rejects what is not a prompt of the suite, naming the prompt', () => {
  const bad = [
    '',
    'hello',
    'copy ["Paul Payne"]', // no colon
    "copy: ['Paul Payne']", // not the spec's list syntax
    'copy: ["Paul Payne","Robert Riley"]', // separator without space
    'copy: []',
    'copy: ["Paul Payne", "Paul Payne"]', // repeated item
    'copy: [" Paul Payne"]', // edge space
    'copy: ["Paul Payne"]\n\n', // two trailing newlines
    'copy: ["Paul Payne"]\r\n',
    'insert_index 3 "Peter Stone": ["Paul Payne", "Robert Riley"]', // index > n
    'insert_index 01 "Peter Stone": ["Paul Payne", "Robert Riley"]', // non-canonical index
    'remove_index 2: ["Paul Payne", "Robert Riley"]', // index = n
    'replace_index 0 "Paul Payne": ["Paul Payne", "Robert Riley"]', // word already in list
    'replace_random "Paul Payne": ["Paul Payne", "Robert Riley"]',
    'shuffle: ["Paul Payne"]', // nothing to shuffle
    'latin_square [A, A, Q, C]:',
    'latin_square [A,7,Q,C]:',
    'sudoku:\n0042\n2031\n4023', // 3 rows
    'sudoku:\n0042\n2031\n4023\n3215', // digit 5
    'sudoku:\n0000\n0000\n0000\n0000', // many solutions
    'sudoku:\n1142\n2031\n4023\n3214', // contradictory givens
  ];
  for (const prompt of bad) {
    assert.throws(() => parsePrompt(prompt), (e: unknown) => e instanceof InputError && e.message.includes(JSON.stringify(prompt).slice(0, 20)), JSON.stringify(prompt));
  }
});

/** Known wrong answers per task, built from an instance. */
function wrongAnswers(inst: TaskInstance): string[] {
  const L = formatList;
  switch (inst.task) {
    case 'copy':
      return [L(inst.input.items.slice(1)), L(inst.input.items.slice(0, -1)), L([...inst.input.items].reverse()), ''];
    case 'sort': {
      const sorted = JSON.parse(inst.reference) as string[];
      return [L([...sorted].reverse()), L(sorted.slice(1)), ...(L(inst.input.items) !== inst.reference ? [L(inst.input.items)] : [])];
    }
    case 'reverse':
      return [L(inst.input.items), L([...inst.input.items].reverse().slice(1))];
    case 'shuffle': {
      const items = [...inst.input.items];
      const swapped = [...items];
      swapped[0] = `${swapped[0]}x`;
      return [L(items), L(swapped.reverse()), L(items.slice(1).reverse())];
    }
    case 'insert_index': {
      const { items, index, word } = inst.input;
      const wrongAt = index === 0 ? 1 : index - 1;
      return [L([...items.slice(0, wrongAt), word, ...items.slice(wrongAt)]), L(items)];
    }
    case 'insert_random': {
      const { items, word } = inst.input;
      return [L(items), L([word, ...items, word]), L([word, ...items.slice(1)])];
    }
    case 'remove_index': {
      const { items, index } = inst.input;
      const other = index === 0 ? 1 : index - 1;
      return [L(items.filter((_, i) => i !== other)), L(items)];
    }
    case 'remove_random': {
      const { items } = inst.input;
      return [L(items), L(items.slice(2)), L([...items.slice(1)].reverse())];
    }
    case 'replace_index': {
      const { items, index, word } = inst.input;
      const other = index === 0 ? 1 : index - 1;
      return [L(items.map((x, i) => (i === other ? word : x))), L(items)];
    }
    case 'replace_random': {
      const { items, word } = inst.input;
      return [
        L(items.map((x, i) => (i < 2 ? word : x))), // two items replaced
        L(items),
        L(items.map((x, i) => (i === 0 ? 'Zed Zed' : x))), // replaced by the wrong name
        L([word, ...items.slice(1), 'Extra Person']),
      ];
    }
    case 'latin_square': {
      const s = inst.input.symbols;
      const row = s.join(',');
      const rows = inst.reference.split('\n');
      return [
        [row, row, row, row].join('\n'), // every column repeats a symbol
        rows.slice(0, 3).join('\n'), // three rows only
        [rows[0], rows[1], rows[3], rows[3]].join('\n'), // repeated row
      ];
    }
    case 'sudoku': {
      const grid = inst.reference.split('');
      const at = grid.findIndex((c) => c !== '\n');
      grid[at] = grid[at] === '1' ? '2' : '1';
      return [grid.join(''), inst.reference.split('\n').slice(0, 3).join('\n'), formatPromptBody(inst)];
    }
  }
}
const formatPromptBody = (inst: TaskInstance): string => inst.prompt.split('\n').slice(1).join('\n');

test('known wrong answers score 0 on every task', () => {
  for (const task of TASK_NAMES) {
    for (const inst of byTask(task).slice(0, 200)) {
      for (const wrong of wrongAnswers(inst)) assert.equal(scoreAnswer(inst, wrong), 0, `${inst.id}: ${JSON.stringify(wrong)}`);
    }
  }
});

test('scoreSuite: per task mean × 100, suite = mean of tasks, entropy groups', () => {
  const results = [
    { task: 'copy' as const, score: 1 },
    { task: 'copy' as const, score: 0 },
    { task: 'sudoku' as const, score: 1 },
    { task: 'shuffle' as const, score: 0 },
    { task: 'shuffle' as const, score: 0 },
    { task: 'shuffle' as const, score: 1 },
    { task: 'shuffle' as const, score: 1 },
  ];
  const s = scoreSuite(results);
  assert.deepEqual(s.perTask, { copy: { score: 50, n: 2 }, shuffle: { score: 50, n: 4 }, sudoku: { score: 100, n: 1 } });
  assert.equal(s.suite, (50 + 50 + 100) / 3);
  assert.equal(s.zeroEntropy, 75);
  assert.equal(s.otherEntropy, 50);
  assert.deepEqual(scoreSuite([]), { perTask: {}, suite: null, zeroEntropy: null, otherEntropy: null });
  assert.throws(() => scoreSuite([{ task: 'copy', score: 2 }]), InputError);
  assert.throws(() => scoreSuite([{ task: 'nope' as TaskName, score: 1 }]), InputError);

  // end to end: references everywhere give 100
  const all = scoreSuite(ALL.map((inst) => ({ task: inst.task, score: scoreAnswer(inst, inst.reference) })));
  assert.equal(all.suite, 100);
  assert.equal(Object.keys(all.perTask).length, 12);
});

test('promptText normalizes the optional trailing newline to exactly one', () => {
  assert.equal(promptText('copy: ["A B"]'), 'copy: ["A B"]\n');
  assert.equal(promptText('copy: ["A B"]\n'), 'copy: ["A B"]\n');
  assert.equal(promptText('sudoku:\n0042\n2031\n4023\n3214'), 'sudoku:\n0042\n2031\n4023\n3214\n');
  assert.equal(normalizePrompt('x\n\n'), 'x\n');
});

test('generateInstance ids default to a content hash', () => {
  const a = generateInstance('copy', new Rng(1));
  const b = generateInstance('copy', new Rng(1));
  assert.deepEqual(a, b);
  assert.match(a.id, /^copy-[0-9a-f]{8}$/);
  assert.equal(parsePrompt(a.prompt).id, a.id);
  assert.equal(generateInstance('sort', new Rng(1), 'mine').id, 'mine');
});
