import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS, parseTrainArgs, runTraining, type TrainOptions } from '../../src/train/index.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { referenceForward } from '../../src/model/reference.js';
import { initBackend, tf } from '../../src/train/backend.js';
import { head, makeVariables, trunk } from '../../src/train/model.js';
import { loadInitWeights } from '../../src/train/export.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { DistillTeacher } from '../../src/train/distill.js';
import { SuiteData } from '../../src/train/data.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { runAutoregressive } from '../../src/decode/autoregressive/loop.js';
import { findAutoregressiveStrategy } from '../../src/decode/registry.js';
import { Rng } from '../../src/tasks/rng.js';

const TINY: Partial<TrainOptions> = {
  batch: 8, dModel: 32, layers: 2, heads: 2, ffn: 64, lr: 3e-3, warmup: 5, evalEvery: 1000, saveEvery: 1000,
  evalPerTask: 1, logEvery: 1000, tasks: ['copy', 'sort'], tokenizer: 'models/tokenizer',
};

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'paradec-train-'));
}

function opts(o: Partial<TrainOptions>): TrainOptions {
  return { ...DEFAULT_OPTIONS, ...TINY, ...o } as TrainOptions;
}

const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;

test('flag parser reads the documented flags', () => {
  const o = parseTrainArgs(['--objective', 'diffusion', '--out', 'runs/x', '--steps', '12', '--batch=4', '--d-model', '64', '--layers', '3',
    '--heads', '2', '--ffn', '96', '--lr', '1e-3', '--seed', '5', '--eval-every', '7', '--save-every', '3', '--resume', '--init-from', 'runs/y']);
  assert.equal(o.objective, 'diffusion');
  assert.deepEqual([o.steps, o.batch, o.dModel, o.layers, o.heads, o.ffn, o.lr, o.seed, o.evalEvery, o.saveEvery], [12, 4, 64, 3, 2, 96, 1e-3, 5, 7, 3]);
  assert.equal(o.resume, true);
  assert.equal(o.initFrom, 'runs/y');
  assert.throws(() => parseTrainArgs(['--objective', 'mlm']), /diffusion or causal/);
  assert.throws(() => parseTrainArgs(['--bogus', '1']), /unknown flag --bogus/);
});

for (const objective of ['causal', 'diffusion'] as const) {
  test(`a few ${objective} steps decrease the loss`, async () => {
    const out = tmp();
    try {
      const r = await runTraining(opts({ objective, out, steps: 40, seed: 3 }), { quiet: true });
      assert.equal(r.losses.length, 40);
      const first = mean(r.losses.slice(0, 5));
      const last = mean(r.losses.slice(-5));
      assert.ok(last < first - 0.5, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
      assert.ok(existsSync(join(out, 'log.jsonl')) && existsSync(join(out, 'state.safetensors')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

for (const objective of ['causal', 'diffusion'] as const) {
  test(`${objective}: resume reproduces the uninterrupted loss sequence exactly`, async () => {
    const a = tmp();
    const b = tmp();
    try {
      const full = await runTraining(opts({ objective, out: a, steps: 8, seed: 4 }), { quiet: true });
      const first = await runTraining(opts({ objective, out: b, steps: 8, seed: 4 }), { quiet: true, stopAfter: (d) => d === 3 });
      assert.equal(first.step, 3);
      const rest = await runTraining(opts({ objective, out: b, steps: 8, seed: 4, resume: true }), { quiet: true });
      assert.deepEqual([...first.losses, ...rest.losses], full.losses);
      for (const [k, v] of full.params) assert.deepEqual(rest.params.get(k), v, k);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
}

for (const objective of ['causal', 'diffusion'] as const) {
  test(`${objective}: the exported checkpoint's tfjs forward agrees with referenceForward and the compiled ONNX graph`, async () => {
    const out = tmp();
    try {
      const exportTo = join(out, 'export');
      const r = await runTraining(opts({ objective, out, steps: 3, seed: 5, exportTo }), { quiet: true });
      const cfg = JSON.parse(readFileSync(join(exportTo, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(cfg['model_type'], objective === 'diffusion' ? 'llada' : 'llama');
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors']) assert.ok(existsSync(join(exportTo, f)), f);
      const ck = loadCheckpoint(exportTo);
      assert.equal(ck.config.causal, objective === 'causal');
      await initBackend();
      // weights read back from the export equal the trained weights
      const back = loadInitWeights(exportTo, r.shape);
      for (const [k, v] of r.params) assert.deepEqual(back.get(k), v, k);
      const params = makeVariables(r.shape, back);
      const tokens = [
        [5, 7, 100, 200, 300, 4, 0, 0, 0, 44, 45, 46, 1, 1],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11, 12, 13],
      ];
      const ref = referenceForward(ck, tokens);
      const got = tf.tidy(() => head(params, trunk(params, r.shape, tf.tensor2d(tokens.flat(), [2, 14], 'int32'), tf.ones([2, 14]) as tf.Tensor2D, objective === 'causal'))).dataSync();
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
      for (const v of params.values()) v.dispose();
      assert.ok(maxDiff < 1e-4, `max |tfjs - reference| = ${maxDiff}`);

      // and with the compiled ONNX graph the runtime serves
      const m = await compileModel(exportTo, { cacheDir: join(out, 'cache'), threads: 1 });
      try {
        const flat = Int32Array.from(tokens.flat());
        const V = r.shape.vocabSize;
        let onnx: Float32Array;
        if (m.kind === 'bidirectional') {
          onnx = (await m.forward(flat, 2, 14, { logits: true })).logits!;
        } else {
          onnx = (await m.forward(flat, 2, 14, m.emptyCache(2), { logits: true })).head.logits!;
        }
        assert.equal(onnx.length, 2 * 14 * V);
        let d2 = 0;
        for (let i = 0; i < onnx.length; i++) d2 = Math.max(d2, Math.abs(onnx[i]! - got[i]!));
        assert.ok(d2 < 1e-4, `max |tfjs - onnx| = ${d2}`);
      } finally {
        await (m as unknown as { dispose(): Promise<void> }).dispose();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test('--distill-from: batches carry the teacher\'s greedy answers (equal to plain greedy decoding of the compiled teacher)', async () => {
  const out = tmp();
  try {
    const teacherDir = join(out, 'teacher');
    await runTraining(opts({ objective: 'causal', out: join(out, 'teacher-run'), steps: 3, seed: 3, exportTo: teacherDir }), { quiet: true });
    const tokenizer = loadTokenizer('models/tokenizer');
    const data = new SuiteData(tokenizer, ['copy', 'sort']);
    const teacher = await DistillTeacher.open(teacherDir, tokenizer.vocabSize, data.eos);
    const worker = await compileModel(teacherDir, { cacheDir: join(out, 'cache'), threads: 1 });
    try {
      assert.equal(worker.kind, 'causal');
      // prompts of several lengths, two of them equal (decoded together as one batch)
      const encoded = data.trainInstances(1, 0, 6, 'causal', 12);
      const seqs = encoded.map((e) => data.sequence(e, 'causal', 12));
      const prompts = [...seqs.map((s) => s.prompt), seqs[0]!.prompt];
      const answers = await teacher.answers(prompts, 12, data.eos);
      for (let i = 0; i < prompts.length; i++) {
        const it = runAutoregressive(worker as never, prompts[i]!, findAutoregressiveStrategy('greedy').create({}), {
          maxTokens: 12, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [data.eos],
        });
        let plain: number[] = [];
        for (;;) {
          const n = await it.next();
          if (n.done) {
            plain = n.value.generated;
            break;
          }
        }
        assert.deepEqual(answers[i], plain, `prompt ${i}`);
      }
      const relabelled = await teacher.relabel(data, encoded, 12, false);
      assert.deepEqual(relabelled.map((s) => s.prompt), seqs.map((s) => s.prompt));
      assert.deepEqual(relabelled.map((s) => s.answer), answers.slice(0, seqs.length));
      assert.notDeepEqual(relabelled.map((s) => s.answer), seqs.map((s) => s.answer), 'a 3-step teacher does not reproduce the references');
      // --distill-keep valid: the teacher's answer where the scorer accepts it, else the reference
      const many = data.trainInstances(2, 0, 24, 'diffusion', 12);
      const theirs = await teacher.answers(many.map((e) => e.prompt), 12, data.eos);
      const kept = await teacher.relabel(data, many, 12, true);
      let rejected = 0;
      kept.forEach((e, i) => {
        const valid = data.score(many[i]!, theirs[i]!).score === 1;
        if (!valid) rejected += 1;
        assert.deepEqual(e.answer, valid ? theirs[i] : many[i]!.answer, `instance ${i} (teacher answer valid: ${valid})`);
      });
      assert.ok(rejected > 0, 'a 3-step teacher gets some answers wrong');
      // a diffusion canvas holds the kept answer padded with end-of-text
      const seq = data.sequence(kept[0]!, 'diffusion', 12);
      assert.equal(seq.answer.length, 12);
      assert.deepEqual(seq.answer.slice(0, kept[0]!.answer.length), kept[0]!.answer.slice(0, 12));
    } finally {
      await teacher.dispose();
      await (worker as unknown as { dispose(): Promise<void> }).dispose();
    }
    // the trainer runs with it, and refuses what cannot work
    const r = await runTraining(opts({ objective: 'causal', out: join(out, 'student'), steps: 2, seed: 4, distillFrom: teacherDir }), { quiet: true });
    assert.equal(r.step, 2);
    const d = await runTraining(opts({ objective: 'diffusion', out: join(out, 'dlm-student'), steps: 2, seed: 4, distillFrom: teacherDir, distillKeep: 'valid' }), { quiet: true });
    assert.equal(d.step, 2);
    assert.equal(parseTrainArgs(['--objective', 'diffusion', '--distill-from', teacherDir, '--distill-keep', 'valid']).distillKeep, 'valid');
    assert.throws(() => parseTrainArgs(['--objective', 'diffusion', '--distill-keep', 'valid']), /needs --distill-from/);
    assert.throws(() => parseTrainArgs(['--distill-from', teacherDir, '--distill-keep', 'some']), /--distill-keep must be/);
    await assert.rejects(DistillTeacher.open(teacherDir, 999, data.eos), (e: Error) => e.message.includes(teacherDir) && /vocabulary/.test(e.message));
    await assert.rejects(DistillTeacher.open(join(out, 'missing'), tokenizer.vocabSize, data.eos), (e: Error) => e.message.includes(join(out, 'missing')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
