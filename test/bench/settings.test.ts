import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_GRID, findStrategy, parseSweep, planSettings } from '../../src/bench/settings.js';
import { genRecord, parseTasks, settingGen } from '../../src/bench/plan.js';
import { OptionError } from '../../src/errors.js';
import type { AnyStrategyDefinition } from '../../src/decode/registry.js';

const defs = (...names: string[]): AnyStrategyDefinition[] => names.map((n) => findStrategy(n)!);
const labels = (s: { label: string }[]) => s.map((x) => x.label);

test('parseSweep: key=values and strategy.key=values', () => {
  assert.deepEqual(parseSweep('tau=0.7, 0.8,0.9'), { key: 'tau', values: ['0.7', '0.8', '0.9'] });
  assert.deepEqual(parseSweep('threshold.tau=0.5'), { strategy: 'threshold', key: 'tau', values: ['0.5'] });
  assert.deepEqual(parseSweep('left-to-right.k=2'), { strategy: 'left-to-right', key: 'k', values: ['2'] });
  assert.throws(() => parseSweep('tau'), OptionError);
  assert.throws(() => parseSweep('tau='), /no values/);
});

test('built-in grids: every declared grid key exists on its strategy', () => {
  for (const [name, grid] of Object.entries(DEFAULT_GRID)) {
    const def = findStrategy(name);
    assert.ok(def, `grid for unknown strategy ${name}`);
    for (const k of Object.keys(grid)) assert.ok(k in def.params, `${name} has no option ${k}`);
  }
  const s = planSettings(defs('confidence', 'threshold', 'prophet'), []);
  assert.deepEqual(labels(s), [
    'confidence k=1', 'confidence k=2', 'confidence k=4', 'confidence k=8',
    'threshold tau=0.5', 'threshold tau=0.7', 'threshold tau=0.9', 'threshold tau=0.97',
    'prophet',
  ]);
  assert.equal(s[0]!.params['k'], 1);
  assert.equal(s[8]!.params['gap_high'], 7.5); // defaults filled in
});

test('--sweep replaces a key in every strategy that has it and leaves the others their grid', () => {
  const s = planSettings(defs('confidence', 'threshold', 'ete', 'greedy'), [parseSweep('tau=0.8,0.95')]);
  assert.deepEqual(labels(s), [
    'confidence k=1', 'confidence k=2', 'confidence k=4', 'confidence k=8',
    'threshold tau=0.8', 'threshold tau=0.95',
    'ete tau=0.8', 'ete tau=0.95',
    'greedy',
  ]);
});

test('--sweep strategy.key targets one strategy; several sweeps form a product; --no-grid', () => {
  const one = planSettings(defs('threshold', 'ete'), [parseSweep('threshold.tau=0.6')]);
  assert.deepEqual(labels(one), ['threshold tau=0.6', 'ete tau=0.7', 'ete tau=0.9']);
  const prod = planSettings(defs('ete'), [parseSweep('tau=0.7,0.9'), parseSweep('explore_width=2,8')], { grid: false });
  assert.deepEqual(labels(prod), ['ete tau=0.7 explore_width=2', 'ete tau=0.7 explore_width=8', 'ete tau=0.9 explore_width=2', 'ete tau=0.9 explore_width=8']);
  const bare = planSettings(defs('confidence', 'threshold'), [parseSweep('k=2')], { grid: false });
  assert.deepEqual(labels(bare), ['confidence k=2', 'threshold']);
});

test('generation keys apply to every strategy of their family', () => {
  const s = planSettings(defs('threshold', 'greedy'), [parseSweep('block_length=8,32'), parseSweep('max_tokens=16')], { grid: false });
  assert.deepEqual(labels(s), ['threshold block_length=8', 'threshold block_length=32', 'greedy max_tokens=16']);
  assert.deepEqual(s[0]!.gen, { block_length: 8 });
  assert.deepEqual(s[2]!.gen, { max_tokens: 16 });
});

test('eos_fill sweeps the end-of-text fill of the diffusion strategies: true or false', () => {
  const s = planSettings(defs('threshold', 'greedy'), [parseSweep('eos_fill=true,false')], { grid: false });
  assert.deepEqual(labels(s), ['threshold eos_fill=true', 'threshold eos_fill=false', 'greedy']);
  assert.deepEqual(s[1]!.gen, { eos_fill: false });
  const gen = settingGen({ genLength: 32, eosFill: true }, s[1]!);
  assert.equal(gen.eosFill, false);
  assert.deepEqual(genRecord(gen), { gen_length: 32, eos_fill: false });
  assert.throws(() => planSettings(defs('threshold'), [parseSweep('eos_fill=maybe')]), /eos_fill: 'maybe' is not true or false/);
});

test('bad sweeps name the problem', () => {
  assert.throws(() => planSettings(defs('confidence'), [parseSweep('tau=0.5')]), /no strategy run here has an option 'tau'/);
  assert.throws(() => planSettings(defs('threshold'), [parseSweep('tau=2')]), /tau' must be <= 1/);
  assert.throws(() => planSettings(defs('threshold'), [parseSweep('confidence.k=2')]), /'confidence' is not among the strategies run/);
  assert.throws(() => planSettings(defs('threshold'), [parseSweep('block_length=0')]), /positive integer/);
});

test('--tasks: names and groups', () => {
  assert.deepEqual(parseTasks('copy,shuffle'), ['copy', 'shuffle']);
  assert.deepEqual(parseTasks('zero'), ['copy', 'sort', 'reverse', 'insert_index', 'remove_index', 'replace_index', 'sudoku']);
  assert.deepEqual(parseTasks('dependent,copy'), ['shuffle', 'insert_random', 'remove_random', 'replace_random', 'latin_square', 'copy']);
  assert.equal(parseTasks('all').length, 12);
  assert.throws(() => parseTasks('copy,nope'), /unknown task 'nope'/);
});
