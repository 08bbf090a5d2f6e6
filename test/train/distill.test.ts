import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS, parseTrainArgs, runTraining, type TrainOptions } from '../../src/train/index.js';
import { DistillTeacher } from '../../src/train/distill.js';
import { SuiteData } from '../../src/train/data.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import type { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { findDiffusionStrategy } from '../../src/decode/registry.js';
import { initBackend, tf } from '../../src/train/backend.js';
import { head, initParams, makeVariables, trunk, type ModelShape } from '../../src/train/model.js';
import { batchLoss, diffusionBatch } from '../../src/train/objective.js';
import { Rng } from '../../src/tasks/rng.js';
import { SUITE_TASKS } from '../../src/train/suite.js';

const TINY: Partial<TrainOptions> = {
  batch: 8, dModel: 32, layers: 2, heads: 2, ffn: 64, lr: 3e-3, warmup: 5, evalEvery: 1000, saveEvery: 1000,
  evalPerTask: 1, logEvery: 1000, tasks: ['copy', 'sort'], tokenizer: 'models/tokenizer',
};
const opts = (o: Partial<TrainOptions>): TrainOptions => ({ ...DEFAULT_OPTIONS, ...TINY, ...o }) as TrainOptions;

test('a diffusion teacher answers like left-to-right decoding; several teachers cascade on the scorer', async () => {
  const out = mkdtempSync(join(tmpdir(), 'paradec-distill-'));
  // the shipped models share one tokenizer and solve most instances, so every branch of the cascade occurs
  const dlmDir = 'models/tiny-dlm';
  const arDir = 'models/tiny-ar';
  try {
    const tokenizer = loadTokenizer(dlmDir);
    const data = new SuiteData(tokenizer, SUITE_TASKS);
    const canvas = 32;

    // 1. the diffusion teacher's answers are the library's left-to-right greedy decoding, cut after end-of-text
    const dlm = await DistillTeacher.open(dlmDir, tokenizer.vocabSize, data.eos);
    const worker = (await compileModel(dlmDir, { cacheDir: join(out, 'cache'), threads: 1 })) as OnnxBidirectionalModel;
    try {
      assert.equal(worker.kind, 'bidirectional');
      const encoded = data.trainInstances(1, 0, 6, 'diffusion', canvas);
      const prompts = [...encoded.map((e) => e.prompt), encoded[0]!.prompt];
      const answers = await dlm.answers(prompts, canvas, data.eos);
      for (let i = 0; i < prompts.length; i++) {
        const it = runDiffusion(worker, [prompts[i]!], findDiffusionStrategy('left-to-right').create({}), [data.eos], { genLength: canvas, rng: new Rng(0) });
        let generated: number[] = [];
        for (;;) {
          const n = await it.next();
          if (n.done) {
            generated = n.value[0]!.generated;
            break;
          }
        }
        const cut = generated.indexOf(data.eos);
        assert.ok(cut >= 0, `prompt ${i}: the shipped model stops within the canvas`);
        assert.deepEqual(answers[i], generated.slice(0, cut + 1), `prompt ${i}`);
      }
    } finally {
      await dlm.dispose();
      await worker.dispose();
    }

    // 2. --distill-from dlm,ar --distill-keep valid: the first teacher answer the scorer accepts, else the reference
    const both = await DistillTeacher.open(`${dlmDir},${arDir}`, tokenizer.vocabSize, data.eos);
    const first = await DistillTeacher.open(dlmDir, tokenizer.vocabSize, data.eos);
    const second = await DistillTeacher.open(arDir, tokenizer.vocabSize, data.eos);
    try {
      assert.deepEqual(both.dirs, [dlmDir, arDir]);
      const many = data.trainInstances(2, 0, 96, 'diffusion', canvas);
      const a1 = await first.answers(many.map((e) => e.prompt), canvas, data.eos);
      const a2 = await second.answers(many.map((e) => e.prompt), canvas, data.eos);
      const kept = await both.relabel(data, many, canvas, true);
      const valid = (i: number, a: number[]): boolean => data.score(many[i]!, a).score === 1;
      const branches = [0, 0, 0];
      kept.forEach((e, i) => {
        const branch = valid(i, a1[i]!) ? 0 : valid(i, a2[i]!) ? 1 : 2;
        branches[branch]! += 1;
        assert.deepEqual(e.answer, [a1[i], a2[i], many[i]!.answer][branch], `instance ${i} (branch ${branch})`);
      });
      assert.ok(branches[0]! > 0 && branches[1]! > 0, `the first teacher is right on some instances and only the second on others: ${branches}`);
      // without the filter: the first teacher's answer
      const all = await both.relabel(data, many, canvas, false);
      assert.deepEqual(all.map((e) => e.answer), a1);
    } finally {
      await Promise.all([both.dispose(), first.dispose(), second.dispose()]);
    }
    await assert.rejects(DistillTeacher.open(`${dlmDir},${join(out, 'missing')}`, tokenizer.vocabSize, data.eos), (e: Error) => e.message.includes(join(out, 'missing')));
    await assert.rejects(DistillTeacher.open(' , ', tokenizer.vocabSize, data.eos), /at least one/);

    // the trainer takes a diffusion teacher (and certainty forcing) for a diffusion student
    const r = await runTraining(opts({ objective: 'diffusion', out: join(out, 'student'), steps: 2, seed: 7, distillFrom: `${dlmDir},${arDir}`, distillKeep: 'valid', certaintyWeight: 2 }), { quiet: true });
    assert.equal(r.step, 2);
    assert.ok(r.losses.every(Number.isFinite));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('certainty forcing adds weight × the tempered entropy of the masked positions already predicted right (dParallel)', async () => {
  await initBackend();
  const shape: ModelShape = { vocabSize: 40, dModel: 16, layers: 1, heads: 2, ffn: 32, ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 64 };
  const params = makeVariables(shape, initParams(shape, 3));
  const MASK = 0;
  const PAD = 2;
  const seqs = [
    { prompt: [5, 6, 7], answer: [8, 9, 10, 11, 12, 1] },
    { prompt: [13, 14], answer: [15, 16, 17, 18, 1, 1] },
  ];
  const batch = diffusionBatch(seqs, MASK, PAD, new Rng(11));
  const { B, T } = batch;
  // the model's own argmax on this input: make every other masked target agree with it
  const logits = tf.tidy(() => head(params, trunk(params, shape, tf.tensor2d(batch.input, [B, T], 'int32'), tf.tensor2d(batch.keyMask, [B, T]), false)));
  const l = (await logits.data()) as Float32Array;
  logits.dispose();
  const V = shape.vocabSize;
  const argmax = (i: number): number => {
    let best = 0;
    for (let v = 1; v < V; v++) if (l[i * V + v]! > l[i * V + best]!) best = v;
    return best;
  };
  const masked = [...batch.weight.keys()].filter((i) => batch.weight[i]! > 0);
  assert.ok(masked.length >= 4, 'the seeded masking hides several answer tokens');
  const right: number[] = [];
  masked.forEach((i, j) => {
    batch.target[i] = j % 2 === 0 ? argmax(i) : (argmax(i) + 1) % V;
    if (j % 2 === 0) right.push(i);
  });
  const entropyAt = (i: number, temperature: number): number => {
    const z = Array.from(l.subarray(i * V, (i + 1) * V), (x) => x / temperature);
    const m = Math.max(...z);
    const e = z.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    return -e.reduce((acc, x) => acc + (x / s) * Math.log(x / s), 0);
  };
  const loss = (weight: number, temperature = 0.5): number => tf.tidy(() => batchLoss(params, shape, 'diffusion', batch, { weight, temperature }).dataSync()[0]!);
  const ce = loss(0);
  for (const [w, temp] of [[2, 0.5], [1, 1]] as const) {
    const expected = (w * right.reduce((a, i) => a + entropyAt(i, temp), 0)) / right.length;
    assert.ok(Math.abs(loss(w, temp) - ce - expected) < 1e-4, `w ${w}, T ${temp}: ${loss(w, temp) - ce} vs ${expected}`);
  }
  // nothing predicted right: the cross-entropy alone
  for (const i of masked) batch.target[i] = (argmax(i) + 1) % V;
  assert.ok(Math.abs(loss(2) - loss(0)) < 1e-6);
  // the flags are checked
  assert.throws(() => parseTrainArgs(['--objective', 'causal', '--certainty-weight', '2']), /diffusion objective only/);
  assert.throws(() => parseTrainArgs(['--objective', 'diffusion', '--certainty-weight', '-1']), /zero or positive/);
  const o = parseTrainArgs(['--objective', 'diffusion', '--certainty-weight', '2', '--certainty-temperature', '0.25']);
  assert.deepEqual([o.certaintyWeight, o.certaintyTemperature], [2, 0.25]);
  for (const v of params.values()) v.dispose();
});
