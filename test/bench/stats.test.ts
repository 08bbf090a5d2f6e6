import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyBaseline, applyOracles, applyRoundsBound, BOUND_TAU, frontiers, groupMetrics, paretoFrontier, quantile, summarizeSettings } from '../../src/bench/stats.js';
import type { ScheduleReport } from '../../src/decode/diffusion/row-state.js';
import { bitsToRoundsLowerBound } from '../../src/decode/diffusion/ete.js';
import { fixtureRows, row } from './fixtures.js';

const close = (a: number | null | undefined, b: number, eps = 1e-9) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < eps, `${a} ≉ ${b}`);

test('quantile: linear interpolation between closest ranks (numpy default)', () => {
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  close(quantile([1, 2, 3, 4], 0.95), 3.85);
  assert.equal(quantile([7], 0.95), 7);
  assert.equal(quantile([10, 20], 0), 10);
  assert.equal(quantile([10, 20], 1), 20);
  assert.ok(Number.isNaN(quantile([], 0.5)));
  close(quantile([80, 100, 120], 0.95), 118);
});

test('group metrics: scores are the mean of task scores; NFE, tokens/forward, tokens/s, latency pooled', () => {
  const rows = fixtureRows().filter((r) => r.setting === 'm/threshold tau=0.9');
  const g = groupMetrics(rows);
  assert.equal(g.instances, 3);
  assert.equal(g.tasks, 2);
  assert.equal(g.score, 50); // copy 100, shuffle 0
  assert.equal(g.solved, 2);
  assert.equal(g.meanNfe, 10);
  close(g.tokensPerForward, 48 / 30);
  close(g.tokensPerSecond, 48 / 0.3);
  assert.equal(g.meanMs, 100);
  assert.equal(g.p50Ms, 100);
  close(g.p95Ms, 118);
  // task weights are equal whatever their instance counts: 1 copy of 2 right (50), the shuffle right (100)
  const b = groupMetrics(fixtureRows().filter((r) => r.setting === 'm/threshold tau=0.5'));
  assert.equal(b.score, 75);
});

test('a stopped instance scores 0 and stays out of the NFE and time aggregates', () => {
  const rows = [row({ setting: 'm/x', id: 'copy-0-0', score: 1, nfe: 4, tokens: 8, ms: 10 }), row({ setting: 'm/x', id: 'copy-0-1', score: 0, nfe: 272, tokens: 0, ms: 999, stopped: 'no end after 272 forward passes' })];
  const g = groupMetrics(rows);
  assert.equal(g.score, 50);
  assert.equal(g.instances, 2);
  assert.equal(g.meanNfe, 4);
  assert.equal(g.meanMs, 10);
  assert.equal(summarizeSettings(rows)[0]!.stopped, 1);
});

test('per-instance oracles: fewest forward passes of a solving run, per model and per strategy', () => {
  const rows = fixtureRows();
  const pseudo = applyOracles(rows);
  const get = (setting: string, id: string) => rows.find((r) => r.setting === setting && r.id === id)!;
  // model oracle: copy-0-0 min(A 10, B 4, C 20, O 5) = 4; copy-0-1 min(A 8, C 16, O 2) = 2; shuffle-0-0 only B = 6
  assert.deepEqual(['copy-0-0', 'copy-0-1', 'shuffle-0-0'].map((id) => get('m/threshold tau=0.9', id).oracleNfe), [4, 2, 6]);
  // family oracle of threshold: 4, 8 (B failed copy-0-1), 6; confidence: 20, 16, none
  assert.deepEqual(['copy-0-0', 'copy-0-1', 'shuffle-0-0'].map((id) => get('m/threshold tau=0.5', id).familyOracleNfe), [4, 8, 6]);
  assert.deepEqual(['copy-0-0', 'copy-0-1', 'shuffle-0-0'].map((id) => get('m/confidence k=1', id).familyOracleNfe), [20, 16, null]);
  assert.equal(get('m/threshold tau=0.9', 'copy-0-0').nfeOverOracle, 2.5);
  assert.equal(get('m/oracle', 'copy-0-0').familyOracleNfe, null);

  // pseudo-rows: threshold has two settings (a family oracle), confidence one (none), plus the model's best of all
  const fam = pseudo.filter((r) => r.kind === 'family-oracle');
  assert.deepEqual(fam.map((r) => [r.id, r.from, r.nfe, r.score]), [
    ['copy-0-0', 'm/threshold tau=0.5', 4, 1],
    ['copy-0-1', 'm/threshold tau=0.9', 8, 1],
    ['shuffle-0-0', 'm/threshold tau=0.5', 6, 1],
  ]);
  const best = pseudo.filter((r) => r.kind === 'model-oracle');
  assert.deepEqual(best.map((r) => [r.id, r.from, r.nfe]), [
    ['copy-0-0', 'm/threshold tau=0.5', 4],
    ['copy-0-1', 'm/oracle', 2],
    ['shuffle-0-0', 'm/threshold tau=0.5', 6],
  ]);
});

test('an instance nobody solves: the family oracle takes the fewest forward passes, the ratio skips it', () => {
  const rows = [
    row({ setting: 'm/t a', strategy: 't', id: 'copy-0-0', score: 0, nfe: 9 }),
    row({ setting: 'm/t b', strategy: 't', id: 'copy-0-0', score: 0, nfe: 5 }),
    row({ setting: 'm/t a', strategy: 't', id: 'copy-0-1', score: 1, nfe: 6 }),
    row({ setting: 'm/t b', strategy: 't', id: 'copy-0-1', score: 1, nfe: 3 }),
  ];
  const pseudo = applyOracles(rows);
  const fam = pseudo.filter((r) => r.kind === 'family-oracle');
  assert.deepEqual(fam.map((r) => [r.id, r.nfe, r.score, r.familyOracleNfe]), [
    ['copy-0-0', 5, 0, null],
    ['copy-0-1', 3, 1, 3],
  ]);
  const s = summarizeSettings([...rows, ...pseudo]);
  assert.equal(s.find((x) => x.setting === 'm/t a')!.nfeOverOracle, 2); // 6 / 3 over the solved instance only
  assert.equal(s.find((x) => x.setting === 'm/t b')!.nfeOverOracle, 1);
});

test('setting summaries: groups, per task, oracle multiples', () => {
  const rows = fixtureRows();
  applyRoundsBound(rows);
  const all = [...rows, ...applyOracles(rows)];
  const s = summarizeSettings(all);
  const by = new Map(s.map((x) => [x.setting, x]));
  assert.deepEqual([...by.keys()], [
    'm/threshold tau=0.9', 'm/threshold tau=0.5', 'm/confidence k=1', 'm/oracle', 'm/threshold (best setting per instance)', 'm/best of all (per instance)',
  ]);
  const a = by.get('m/threshold tau=0.9')!;
  assert.equal(a.zeroEntropy!.score, 100);
  assert.equal(a.dependent!.score, 0);
  assert.equal(a.overall.score, 50);
  assert.equal(a.perTask.copy!.meanNfe, 9);
  assert.equal(a.perTask.shuffle!.instances, 1);
  assert.equal(a.nfeOverOracle, 30 / 12);
  // per group: copy (zero-entropy) oracles 4 and 2, the shuffle's 6
  assert.equal(a.zeroEntropy!.nfeOverOracle, (10 + 8) / (4 + 2));
  assert.equal(a.dependent!.nfeOverOracle, 12 / 6);
  close(a.nfeOverFamilyOracle, 30 / 18);
  close(by.get('m/threshold tau=0.5')!.nfeOverOracle, 13 / 12);
  assert.equal(by.get('m/confidence k=1')!.nfeOverOracle, 4);
  assert.equal(by.get('m/confidence k=1')!.nfeOverFamilyOracle, 1); // the shuffle (unsolved) is left out
  const fam = by.get('m/threshold (best setting per instance)')!;
  assert.equal(fam.kind, 'family-oracle');
  assert.equal(fam.overall.score, 100);
  assert.equal(fam.overall.meanNfe, 6);
  const best = by.get('m/best of all (per instance)')!;
  assert.equal(best.overall.meanNfe, 4);
  assert.equal(best.nfeOverOracle, 1);
});

test('bits-to-rounds bound: at each threshold setting\'s tau, and at 0.9 for the oracle rows', () => {
  const rows = fixtureRows();
  rows.push(row({ setting: 'ar/greedy', model: 'ar', family: 'autoregressive', strategy: 'greedy', id: 'copy-0-0', score: 1, nfe: 20, params: { tau: 0.5 } }));
  applyRoundsBound(rows);
  const a = rows.find((r) => r.setting === 'm/threshold tau=0.5' && r.id === 'copy-0-1')!;
  assert.equal(a.nll, 3);
  close(a.roundsBound, bitsToRoundsLowerBound(3, 16, 0.5));
  const o = rows.find((r) => r.setting === 'm/oracle' && r.id === 'shuffle-0-0')!;
  close(o.roundsBound, bitsToRoundsLowerBound(4, 12, 1 - BOUND_TAU));
  assert.equal(rows.find((r) => r.setting === 'm/confidence k=1')!.roundsBound, undefined); // no tau
  assert.equal(rows.find((r) => r.model === 'ar')!.roundsBound, undefined); // not a diffusion model
  const s = summarizeSettings(rows).find((x) => x.setting === 'm/threshold tau=0.9')!;
  assert.equal(s.roundsBound!.tau, 0.9);
  assert.equal(s.roundsBound!.meanNll, 3);
  assert.equal(s.roundsBound!.meanNfe, 10);
  close(s.roundsBound!.meanBound, (bitsToRoundsLowerBound(2, 20, 0.1) + bitsToRoundsLowerBound(3, 16, 0.1) + bitsToRoundsLowerBound(4, 12, 0.1)) / 3, 1e-6);
});

test('Pareto frontier: non-dominated points, duplicates once, sorted by x', () => {
  const pts = [
    { n: 'a', x: 1, y: 90 },
    { n: 'b', x: 2, y: 80 },
    { n: 'c', x: 1.5, y: 70 },
    { n: 'd', x: 3, y: 80 },
    { n: 'e', x: 3, y: 80 },
    { n: 'f', x: 4, y: 10 },
    { n: 'g', x: NaN, y: 100 },
    { n: 'h', x: 0.5, y: 90 },
  ];
  assert.deepEqual(paretoFrontier(pts, (p) => p.x, (p) => p.y, 'higher').map((p) => p.n), ['a', 'd', 'f']);
  const times = [
    { n: 'slow-good', x: 200, y: 90 },
    { n: 'fast-bad', x: 50, y: 50 },
    { n: 'mid-bad', x: 100, y: 50 },
    { n: 'slowest', x: 300, y: 80 },
  ];
  assert.deepEqual(paretoFrontier(times, (p) => p.x, (p) => p.y, 'lower').map((p) => p.n), ['fast-bad', 'slow-good']);
  assert.deepEqual(paretoFrontier([], (p: { x: number }) => p.x, () => 0, 'higher'), []);
});

test('frontiers over the settings leave the oracle rows out', () => {
  const rows = fixtureRows();
  const s = summarizeSettings([...rows, ...applyOracles(rows)]);
  const f = frontiers(s);
  // B (tau=0.5) beats A and C on both score and tokens per forward; the oracle rows are not candidates
  assert.deepEqual(f.overall.tokensPerForward, ['m/threshold tau=0.5']);
  assert.deepEqual(f.overall.wallTime, ['m/threshold tau=0.5']);
  // on the zero-entropy tasks A (100 at 1.67) and B (50 at 4.44) trade off; C (100 at 1.0) is dominated by A
  assert.deepEqual(f.zeroEntropy.tokensPerForward, ['m/threshold tau=0.9', 'm/threshold tau=0.5']);
  assert.deepEqual(f.dependent.tokensPerForward, ['m/threshold tau=0.5']);
});

test('work: each instance\'s baseline is the oracle\'s one-token-per-step run; means, ratios and the frontier of score vs work', () => {
  const rows = fixtureRows();
  applyBaseline(rows);
  const get = (setting: string, id: string) => rows.find((r) => r.setting === setting && r.id === id)!;
  // the reference run of copy-0-0 took 20 passes of 30 positions
  assert.equal(get('m/threshold tau=0.9', 'copy-0-0').baselineWork, 600);
  assert.equal(get('m/threshold tau=0.9', 'copy-0-0').workOverBaseline, 0.5);
  assert.equal(get('m/threshold tau=0.5', 'copy-0-0').workOverBaseline, 1); // 4 passes × 5 canvases
  assert.equal(get('m/oracle', 'shuffle-0-0').baselineWork, 360);
  const s = summarizeSettings([...rows, ...applyOracles(rows)]);
  const by = new Map(s.map((x) => [x.setting, x]));
  assert.equal(by.get('m/threshold tau=0.9')!.overall.meanWork, 300);
  close(by.get('m/threshold tau=0.9')!.overall.workOverBaseline, 900 / 1440);
  assert.equal(by.get('m/threshold tau=0.5')!.overall.meanWork, 650);
  close(by.get('m/threshold tau=0.5')!.overall.workOverBaseline, 1950 / 1440); // fewer passes, more work
  close(by.get('m/confidence k=1')!.overall.workOverBaseline, 1);
  close(by.get('m/threshold tau=0.5')!.dependent!.workOverBaseline, 900 / 360);
  assert.equal(by.get('m/threshold tau=0.9')!.overall.meanDraftWork, 0);
  // score vs work: A (50 at 300) and B (75 at 650) trade off; C (50 at 480) is dominated by A
  assert.deepEqual(frontiers(s).overall.work, ['m/threshold tau=0.9', 'm/threshold tau=0.5']);
});

test('work: an autoregressive model\'s baseline is its greedy setting; draft work apart; stopped rows and models without a baseline', () => {
  const ar = (setting: string, id: string, work: number, extra: Partial<Parameters<typeof row>[0]> = {}) =>
    row({ model: 'a', family: 'autoregressive', setting: `a/${setting}`, strategy: setting, id, score: 1, nfe: 10, work, ...extra });
  const rows = [
    ar('speculative', 'copy-0-0', 30, { draftWork: 40 }),
    ar('speculative', 'copy-0-1', 36, { draftWork: 44 }),
    ar('greedy', 'copy-0-0', 24),
    ar('greedy', 'copy-0-1', 24),
    ar('lookup', 'copy-0-0', 28),
    ar('lookup', 'copy-0-1', 500, { stopped: 'cap' }),
    row({ model: 'd', setting: 'd/threshold', id: 'copy-0-0', score: 1, nfe: 2, work: 60 }),
  ];
  applyBaseline(rows);
  assert.deepEqual(rows.map((r) => r.baselineWork), [24, 24, 24, 24, 24, 24, null]);
  const s = new Map(summarizeSettings(rows).map((x) => [x.setting, x]));
  const spec = s.get('a/speculative')!.overall;
  assert.equal(spec.meanWork, 33);
  assert.equal(spec.meanDraftWork, 42);
  close(spec.workOverBaseline, 66 / 48);
  close(s.get('a/greedy')!.overall.workOverBaseline, 1);
  // the stopped instance stays out of the means and the ratio
  assert.equal(s.get('a/lookup')!.overall.meanWork, 28);
  close(s.get('a/lookup')!.overall.workOverBaseline, 28 / 24);
  assert.equal(s.get('d/threshold')!.overall.workOverBaseline, null);
  // the frontier of score vs work is one per model: the causal model's few positions do not hide the diffusion model's settings
  assert.deepEqual(frontiers(summarizeSettings(rows)).overall.work, ['a/greedy', 'd/threshold']);
});

test('schedule summary: how many instances ran each schedule, and the one-token share of their steps', () => {
  const report = (kind: ScheduleReport['kind'], base: number, own: number, oneToken: number): ScheduleReport => ({ kind, steps: 32, baseSteps: base, strategySteps: own, oneTokenSteps: oneToken, guaranteeSteps: 0, eosFill: true, eosFilled: 0 });
  const rows = [
    row({ setting: 'm/threshold', id: 'copy-0-0', score: 1, nfe: 32, schedule: report('strategy', 0, 32, 32) }),
    row({ setting: 'm/threshold', id: 'copy-0-1', score: 1, nfe: 2, schedule: report('strategy', 0, 2, 0) }),
    row({ setting: 'm/threshold', id: 'shuffle-0-0', score: 0, nfe: 272, stopped: 'cap', schedule: report('strategy', 0, 272, 272) }),
    row({ setting: 'm/prophet', id: 'copy-0-0', score: 1, nfe: 3, schedule: report('mixed', 2, 1, 2) }),
    row({ setting: 'm/prophet', id: 'copy-0-1', score: 1, nfe: 32, schedule: report('steps', 32, 0, 32) }),
    row({ model: 'a', family: 'autoregressive', setting: 'a/greedy', id: 'copy-0-0', score: 1, nfe: 5 }),
  ];
  const s = new Map(summarizeSettings(rows).map((x) => [x.setting, x]));
  assert.deepEqual(s.get('m/threshold')!.schedule, { steps: 0, strategy: 2, mixed: 0, decisionSteps: 34, oneTokenSteps: 32, eosFill: true });
  assert.deepEqual(s.get('m/prophet')!.schedule, { steps: 1, strategy: 0, mixed: 1, decisionSteps: 35, oneTokenSteps: 34, eosFill: true });
  assert.equal(s.get('a/greedy')!.schedule, null);
});
