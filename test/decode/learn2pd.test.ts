import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { createLearn2pd, filterScores, FILTER_FORMAT, learn2pd, loadFilter, type FilterWeights } from '../../src/decode/diffusion/learn2pd.js';
import { collectLabels, filterLoss, saveFilter, trainFilter, trainLearn2pdFilter, type FilterSample } from '../../src/decode/diffusion/learn2pd-train.js';
import { resolveParams } from '../../src/decode/params.js';
import { OptionError } from '../../src/errors.js';
import { ScriptedBidirectional, rowLogits } from '../helpers/scripted-model.js';
import { EOS, MASK, oneStep, rel } from '../helpers/one-step.js';
import { chainScript, V } from '../helpers/canvas-models.js';

const rng = { float: () => 0.5 };

/**
 * A hand-set filter over 4 positions: hidden = the confidences (identity + ReLU); logit
 * = 20·c − 16 at positions 0, 2, 3 (sigmoid > 0.96 ⇔ c > ~0.959), and position 1 ignores its
 * confidence and always scores sigmoid(10) — so the test can tell the filter from a threshold.
 */
function handFilter(): FilterWeights {
  const I = (n: number, s: number) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? s : 0)));
  const w2 = I(4, 20);
  w2[1] = [0, 0, 0, 0];
  return { format: FILTER_FORMAT, inputDim: 4, hidden: 4, w1: I(4, 1), b1: [0, 0, 0, 0], w2, b2: [-16, 10, -16, -16] };
}

test('learn2pd commits exactly the masked positions whose filter score passes 0.96, plus the top-1', async () => {
  const f = handFilter();
  const s = createLearn2pd(f, { eotp: false });
  const { row, pred, services } = oneStep({ gen: [{ token: 1, p: 0.95 }, { token: 2, p: 0.3 }, { token: 3, p: 0.97 }, { token: 4, p: 0.5 }] });
  const scores = filterScores(f, [0.95, 0.3, 0.97, 0.5].map((_, i) => pred.confidence[row.promptLength + i]!));
  const passing = scores.flatMap((x, i) => (x > 0.96 ? [i] : []));
  assert.deepEqual(passing, [1, 2]); // 0.95 is below the filter's cut, 0.3 is accepted by position
  s.begin!(row);
  const d = await s.decide(row, pred, services);
  assert.deepEqual(rel(row, d.commit), [1, 2]); // the top-1 (gen 2) is among them
  // nothing accepted: only the top-1 (the k = 1 quota)
  const low = oneStep({ gen: [{ token: 1, p: 0.9 }, { token: 2, p: 0.3, masked: false }, { token: 3, p: 0.8 }, { token: 4, p: 0.5 }] });
  assert.deepEqual(rel(low.row, (await s.decide(low.row, low.pred, low.services)).commit), [0]);
  // blocks longer than the filter are scored in zero-padded chunks of its input size
  assert.equal(filterScores(f, [0.99, 0.1, 0.1, 0.1, 0.99, 0.1]).length, 6);
  assert.ok(filterScores(f, [0.99, 0.1, 0.1, 0.1, 0.99, 0.1])[4]! > 0.96);
});

test('learn2pd EoTP: a filter-accepted end-of-text ends the text; everything after becomes end-of-text', async () => {
  const s = createLearn2pd(handFilter());
  // gen 1 predicts EOS and the filter accepts position 1 → cut at gen 1; gen 2.. are EOS now, and
  // gen 3 (committed earlier as 9) is remasked to become EOS
  const { row, pred, services } = oneStep({
    gen: [{ token: 1, p: 0.5 }, { token: EOS, p: 0.4 }, { token: 3, p: 0.99 }, { token: 9, p: 0.9, masked: false }, { token: 5, p: 0.5 }, { token: 6, p: 0.5 }],
    blockEnd: 4,
  });
  s.begin!(row);
  const d = await s.decide(row, pred, services);
  const byPos = new Map(d.commit.map((p, i) => [p - row.promptLength, d.tokens![i]]));
  // gen 2 (0.99, the top-1) is after the cut: it is committed, but as EOS
  assert.deepEqual([...byPos.keys()].sort(), [1, 2, 4, 5]);
  assert.deepEqual([...byPos.values()], [EOS, EOS, EOS, EOS]);
  assert.deepEqual(rel(row, d.remask ?? []), [3]);
});

test('learn2pd EoTP without the filter: the text is cut at the most confident masked end-of-text', async () => {
  const s = createLearn2pd(handFilter());
  const { row, pred, services } = oneStep({
    gen: [{ token: 1, p: 0.6 }, { token: 2, p: 0.5 }, { token: 3, p: 0.5 }, { token: EOS, p: 0.4 }, { token: 5, p: 0.5 }, { token: EOS, p: 0.7 }, { token: EOS, p: 0.5 }, { token: 8, p: 0.5 }],
    blockEnd: 4,
  });
  s.begin!(row);
  const d = await s.decide(row, pred, services);
  // cut at gen 5 (EOS at 0.7 beats gen 3's 0.4): gen 6, 7 become EOS; gen 5 itself stays masked;
  // gen 0 is the top-1, gen 1 the filter's pick
  assert.deepEqual(rel(row, d.commit), [0, 1, 6, 7]);
  assert.deepEqual(d.tokens, [1, 2, EOS, EOS]);
});

test('learn2pd in the loop: a later end-of-text cut remasks committed tokens after it, then fills them', async () => {
  // gen 1, 3 (0.97) and 5 are accepted by the hand filter at step 1; at step 2 gen 2 starts to
  // predict end-of-text (0.4): the text is cut there, the tail becomes end-of-text
  const script = (tokens: Int32Array, call: number) =>
    rowLogits(
      V,
      Array.from(tokens, (t, i) => {
        const g = i - 1;
        if (g < 0) return [t, 0.99] as const;
        if (g === 2) return call === 0 ? ([3, 0.5] as const) : ([EOS, 0.4] as const);
        if (g === 3) return [4, 0.97] as const;
        return [g + 1 + (g >= 4 ? 4 : 0), 0.5] as const;
      }),
    );
  const run = async (eotp: boolean) => {
    const it = runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], createLearn2pd(handFilter(), { eotp }), [EOS], { genLength: 8, rng, eosFill: false });
    const remasked: number[][] = [];
    for (;;) {
      const n = await it.next();
      if (n.done) return { out: n.value[0]!.generated, remasked };
      if (n.value.remasked.length) remasked.push(n.value.remasked.map((p) => p - 1));
    }
  };
  const cut = await run(true);
  assert.deepEqual(cut.out, [1, 2, EOS, EOS, EOS, EOS, EOS, EOS]);
  assert.deepEqual(cut.remasked, [[3, 5]]);
  const plain = await run(false);
  assert.deepEqual(plain.out, [1, 2, EOS, 4, 9, 10, 11, 12]);
});

test('learn2pd loads its filter from filter=PATH and names a missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'l2pd-'));
  try {
    const path = join(dir, 'f.json');
    assert.throws(
      () => learn2pd.create(resolveParams('learn2pd', learn2pd.params, { filter: path })),
      (e: unknown) => e instanceof OptionError && (e as Error).message.includes(path),
    );
    saveFilter(path, handFilter());
    assert.deepEqual(loadFilter(path).b2, handFilter().b2);
    const s = learn2pd.create(resolveParams('learn2pd', learn2pd.params, { filter: path }));
    assert.equal(s.name, 'learn2pd');
    writeFileSync(path, JSON.stringify({ ...handFilter(), w2: [[1]] }));
    assert.throws(() => loadFilter(path), (e: unknown) => e instanceof OptionError && /w2/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('collectLabels records the block confidences and "prediction == final" per step', async () => {
  // fixed predictions: gen g predicts g+1 at a fixed confidence, except gen 1 whose prediction is 9
  // until gen 0 is committed (then 2)
  const conf = [0.9, 0.8, 0.7, 0.6];
  const script = (tokens: Int32Array) =>
    rowLogits(V, Array.from(tokens, (t, i) => (i === 0 ? [t, 0.99] : [i === 2 && tokens[1] === MASK ? 9 : i, conf[i - 1]!] as const)));
  for (const trajectory of ['baseline', 'oracle'] as const) {
    const samples = await collectLabels(new ScriptedBidirectional(V, MASK, script), [[3]], { genLength: 4, rng, eosTokenIds: [EOS], trajectory, eosFill: false });
    assert.ok(samples.length >= 2);
    const first = samples[0]!;
    assert.equal(first.confidence.length, 4);
    assert.ok(Math.abs(first.confidence[1]! - 0.8) < 1e-6);
    assert.deepEqual(first.label, [1, 0, 1, 1], trajectory); // gen 1 says 9, the final is 2
    if (trajectory === 'baseline') assert.equal(samples.length, 4); // one per step, one token per step
    else assert.equal(samples.length, 2); // oracle: 0, 2, 3 at once; then 1
  }
});

test('trainFilter learns a separable rule; trainLearn2pdFilter writes a loadable filter', async () => {
  // label = confidence > 0.7, positionwise
  let s = 7;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const samples: FilterSample[] = Array.from({ length: 300 }, () => {
    const c = Array.from({ length: 4 }, r);
    return { confidence: c, label: c.map((x) => (x > 0.7 ? 1 : 0)) };
  });
  const untrained = trainFilter(samples, { inputDim: 4, hidden: 8, epochs: 0, seed: 1 });
  const f = trainFilter(samples, { inputDim: 4, hidden: 8, epochs: 300, lr: 0.02, seed: 1, batchSize: 32 });
  assert.ok(filterLoss(f, samples) < 0.5 * filterLoss(untrained, samples), `${filterLoss(f, samples)} vs ${filterLoss(untrained, samples)}`);
  let right = 0;
  for (const x of samples) filterScores(f, x.confidence).forEach((p, i) => (right += Number(p > 0.5) === x.label[i] ? 1 : 0));
  assert.ok(right / (samples.length * 4) > 0.9, `accuracy ${right / (samples.length * 4)}`);
  // deterministic given the seed
  assert.deepEqual(trainFilter(samples.slice(0, 20), { inputDim: 4, hidden: 4, epochs: 3, seed: 5 }).w1, trainFilter(samples.slice(0, 20), { inputDim: 4, hidden: 4, epochs: 3, seed: 5 }).w1);

  const dir = mkdtempSync(join(tmpdir(), 'l2pd-'));
  try {
    const out = join(dir, 'sub', 'filter.json');
    const res = await trainLearn2pdFilter({ model: new ScriptedBidirectional(V, MASK, chainScript(1, 6)), prompts: [[3], [4]], out, eosTokenIds: [EOS], genLength: 8, blockLength: 4, epochs: 5, hidden: 4 });
    assert.ok(res.samples > 0);
    assert.equal(loadFilter(out).inputDim, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
