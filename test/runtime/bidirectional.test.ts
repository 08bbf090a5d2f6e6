import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceForward } from '../../src/model/reference.js';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { InputError } from '../../src/errors.js';
import { BIDIRECTIONAL_ARCHS, jsHead, maxAbsDiff, sliceLogits, tempDir, tinyCheckpoint, tokenRows } from './helpers.js';

const tmp = tempDir('bidir');
after(() => tmp.cleanup());
const cacheDir = `${tmp.dir}/cache`;

async function open(ck: Checkpoint): Promise<OnnxBidirectionalModel> {
  const m = await compileModel(ck, { cacheDir, threads: 1 });
  assert.ok(m instanceof OnnxBidirectionalModel);
  return m;
}

for (const arch of BIDIRECTIONAL_ARCHS) {
  describe(`${arch} bidirectional graph`, () => {
    let ck: Checkpoint;
    let model: OnnxBidirectionalModel;
    before(async () => {
      ck = tinyCheckpoint(tmp.dir, arch);
      model = await open(ck);
    });
    after(() => model.dispose());

    test('logits match the reference and the head matches logits computed in JS', async () => {
      const rows = tokenRows(2, 7, ck.config.vocabSize, 3);
      const ref = referenceForward(ck, rows);
      const head = await model.forward(Int32Array.from(rows.flat()), 2, 7, { logits: true });
      assert.equal(head.k, 8);
      assert.equal(head.vocabSize, ck.config.vocabSize);
      assert.ok(maxAbsDiff(head.logits!, ref) < 1e-4, `logits differ by ${maxAbsDiff(head.logits!, ref)}`);
      const js = jsHead(ref, 14, ck.config.vocabSize, 8);
      assert.deepEqual(Array.from(head.topkIds), js.ids);
      assert.ok(maxAbsDiff(head.topkProbs, js.probs) < 1e-5);
      assert.ok(maxAbsDiff(head.entropy, js.entropy) < 1e-4);
    });

    test('without logits requested, none come back', async () => {
      const head = await model.forward(Int32Array.from(tokenRows(1, 5, ck.config.vocabSize).flat()), 1, 5);
      assert.equal(head.logits, undefined);
      assert.equal(head.topkIds.length, 5 * 8);
      assert.equal(head.entropy.length, 5);
    });

    test('right padding: real positions of a padded row equal the unpadded row', async () => {
      const [a, b] = tokenRows(2, 6, ck.config.vocabSize, 11) as [number[], number[]];
      const short = b.slice(0, 4);
      const tokens = Int32Array.from([...a, ...short, 0, 0]);
      const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
      const head = await model.forward(tokens, 2, 6, { logits: true, attentionMask: mask });
      const V = ck.config.vocabSize;
      const refA = referenceForward(ck, [a]);
      const refB = referenceForward(ck, [short]);
      assert.ok(maxAbsDiff(head.logits!.subarray(0, 6 * V), refA) < 1e-4);
      assert.ok(maxAbsDiff(head.logits!.subarray(6 * V, 10 * V), refB) < 1e-4);
    });

    test('left padding: positions count real tokens only', async () => {
      const [row] = tokenRows(1, 4, ck.config.vocabSize, 5) as [number[]];
      const head = await model.forward(Int32Array.from([0, 0, ...row]), 1, 6, { logits: true, attentionMask: Uint8Array.from([0, 0, 1, 1, 1, 1]) });
      const V = ck.config.vocabSize;
      const ref = referenceForward(ck, [row]);
      // Dream's shift hands the first real token the (meaningless) prediction made at a pad
      const from = ck.config.shiftLogits ? 1 : 0;
      assert.ok(maxAbsDiff(head.logits!.subarray((2 + from) * V, 6 * V), ref.subarray(from * V)) < 1e-4);
    });

    test('bad inputs are InputErrors naming the problem', async () => {
      await assert.rejects(model.forward(Int32Array.from([1, 2, 3]), 1, 4), (e: unknown) => e instanceof InputError && /3 tokens/.test(e.message));
      await assert.rejects(model.forward(Int32Array.from([1, 999]), 1, 2), (e: unknown) => e instanceof InputError && /token 999/.test(e.message));
      await assert.rejects(
        model.forward(Int32Array.from([1, 2]), 1, 2, { attentionMask: Uint8Array.of(1) }),
        (e: unknown) => e instanceof InputError && /attentionMask/.test(e.message),
      );
    });
  });
}

for (const [arch, dtype] of [['llada', 'F16'], ['dream', 'BF16']] as const) {
  test(`${arch} ${dtype} checkpoint matches the reference`, async () => {
    const ck = tinyCheckpoint(tmp.dir, arch, { dtype });
    assert.equal(ck.weights.layers[0]!.q.dtype, dtype);
    const model = await open(ck);
    try {
      const rows = tokenRows(2, 5, ck.config.vocabSize, 9);
      const head = await model.forward(Int32Array.from(rows.flat()), 2, 5, { logits: true });
      const ref = referenceForward(ck, rows);
      assert.ok(maxAbsDiff(head.logits!, ref) < 1e-4, `logits differ by ${maxAbsDiff(head.logits!, ref)}`);
      const js = jsHead(sliceLogits(ref, 2, 5, ck.config.vocabSize, 0, 5), 10, ck.config.vocabSize, 8);
      assert.deepEqual(Array.from(head.topkIds), js.ids);
    } finally {
      await model.dispose();
    }
  });
}
