/**
 * The runtime side of diffusion KV caching: the bidirectional graph's keys/values, the window
 * graph, and cache composition in the session worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceForward } from '../../src/model/reference.js';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { ResidentKvCache } from '../../src/runtime/resident-kv-cache.js';
import { InputError } from '../../src/errors.js';
import { BIDIRECTIONAL_ARCHS, maxAbsDiff, tempDir, tinyCheckpoint, tokenRows } from '../runtime/helpers.js';

const tmp = tempDir('kvwin');
after(() => tmp.cleanup());
const cacheDir = `${tmp.dir}/cache`;

/** Window inputs for rows of a [batch, L] canvas: `windows[b]` positions, padded to the longest. */
function windowInput(rows: number[][], lengths: number[], windows: number[][], past: number) {
  const batch = rows.length;
  const w = Math.max(...windows.map((x) => x.length));
  const tokens = new Int32Array(batch * w);
  const positions = new Int32Array(batch * w);
  const keyMask = new Uint8Array(batch * (past + w));
  windows.forEach((win, b) => {
    win.forEach((p, j) => {
      tokens[b * w + j] = rows[b]![p]!;
      positions[b * w + j] = p;
    });
    for (let p = 0; p < Math.min(past, lengths[b]!); p++) keyMask[b * (past + w) + p] = win.includes(p) ? 0 : 1;
    keyMask.fill(1, b * (past + w) + past, b * (past + w) + past + win.length);
  });
  return { batch, window: w, tokens, positions, keyMask };
}

for (const arch of BIDIRECTIONAL_ARCHS) {
  describe(`${arch}: windowed forward against cached keys/values`, () => {
    let ck: Checkpoint;
    let model: OnnxBidirectionalModel;
    before(async () => {
      ck = tinyCheckpoint(tmp.dir, arch);
      const m = await compileModel(ck, { cacheDir, threads: 1 });
      assert.ok(m instanceof OnnxBidirectionalModel);
      model = m;
    });
    after(() => model.dispose());

    test('forwardWithKv gives exactly forward, plus keys/values of every position', async () => {
      const rows = tokenRows(2, 7, ck.config.vocabSize, 5);
      const tokens = Int32Array.from(rows.flat());
      const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
      const plain = await model.forward(tokens, 2, 7, { logits: true, attentionMask: mask });
      const { head, kv } = await model.forwardWithKv(tokens, 2, 7, { logits: true, attentionMask: mask });
      assert.deepEqual(head.logits, plain.logits);
      assert.deepEqual(head.topkIds, plain.topkIds);
      assert.ok(kv instanceof ResidentKvCache);
      assert.equal(kv.batch, 2);
      assert.equal(kv.length, 7);
      const { numLayers, numKvHeads, headDim } = ck.config;
      assert.equal(kv.keys.length, numLayers);
      assert.equal(kv.keys[0]!.length, 2 * numKvHeads * 7 * headDim);
      model.releaseKv([kv]);
    });

    test('a window matches the full forward on the positions it computes (batch 2, own windows, padding)', async () => {
      const V = ck.config.vocabSize;
      const L = 10;
      const rows = tokenRows(2, L, V, 21);
      const lengths = [10, 7];
      const tokens = Int32Array.from(rows.flat());
      const mask = new Uint8Array(2 * L);
      mask.fill(1, 0, 10);
      mask.fill(1, L, L + 7);
      const { kv } = await model.forwardWithKv(tokens, 2, L, { attentionMask: mask });
      const windows = [[3, 4, 5, 6], [0, 6]];
      const input = windowInput(rows, lengths, windows, L);
      const { head, fresh } = await model.forwardWindow({ ...input, cache: kv }, { logits: true });
      assert.equal(head.length, 4);
      // the reference, row by row on the unpadded canvas; the window graph never shifts logits,
      // so for Dream slot p holds the prediction the full forward puts at p + 1
      let worst = 0;
      let checked = 0;
      windows.forEach((win, b) => {
        const ref = referenceForward(ck, [rows[b]!.slice(0, lengths[b])]);
        win.forEach((p, j) => {
          const at = ck.config.shiftLogits ? p + 1 : p;
          if (at >= lengths[b]!) return;
          worst = Math.max(worst, maxAbsDiff(head.logits!.subarray((b * 4 + j) * V, (b * 4 + j + 1) * V), ref.subarray(at * V, (at + 1) * V)));
          checked += 1;
        });
      });
      assert.ok(checked >= 5);
      assert.ok(worst < 1e-4, `window logits differ from the full forward by ${worst}`);
      // the window's own keys/values equal the full forward's at those positions
      const { numKvHeads: H, headDim: D } = ck.config;
      const keys = (fresh as ResidentKvCache).keys[1]!;
      const fullKeys = (kv as ResidentKvCache).keys[1]!;
      let kvDiff = 0;
      windows.forEach((win, b) => win.forEach((p, j) => {
        for (let h = 0; h < H; h++) {
          const a = keys.subarray(((b * H + h) * 4 + j) * D, ((b * H + h) * 4 + j + 1) * D);
          const e = fullKeys.subarray(((b * H + h) * L + p) * D, ((b * H + h) * L + p + 1) * D);
          kvDiff = Math.max(kvDiff, maxAbsDiff(a, e));
        }
      }));
      assert.ok(kvDiff < 1e-5, `fresh keys differ from the full forward's by ${kvDiff}`);
      model.releaseKv([kv, fresh]);
    });

    test('composeKv reorders rows and scatters fresh keys/values; the window result is unchanged', async () => {
      const V = ck.config.vocabSize;
      const L = 8;
      const rows = tokenRows(2, L, V, 33);
      const { kv } = await model.forwardWithKv(Int32Array.from(rows.flat()), 2, L);
      const input = windowInput(rows, [L, L], [[2, 3], [5, 6]], L);
      const first = await model.forwardWindow({ ...input, cache: kv }, { logits: true });
      // write the window's keys/values back (the same values): nothing changes
      const written = model.composeKv(kv, {
        batch: 2, length: L, rowMap: Int32Array.from([0, 1]), consume: true,
        writes: [{ kv: first.fresh, targetRows: Int32Array.from([0, 1]), positions: Int32Array.from([2, 3, 5, 6]) }],
        release: [first.fresh],
      });
      const again = await model.forwardWindow({ ...input, cache: written }, { logits: true });
      assert.ok(maxAbsDiff(again.head.logits!, first.head.logits!) < 1e-6);
      // rows swapped: row 0 of the new cache is row 1 of the old
      const swapped = model.composeKv(written, { batch: 2, length: L, rowMap: Int32Array.from([1, 0]), consume: false, writes: [] });
      const swappedInput = windowInput([rows[1]!, rows[0]!], [L, L], [[5, 6], [2, 3]], L);
      const third = await model.forwardWindow({ ...swappedInput, cache: swapped }, { logits: true });
      assert.ok(maxAbsDiff(third.head.logits!.subarray(0, 2 * V), first.head.logits!.subarray(2 * V, 4 * V)) < 1e-6);
      // a consumed cache cannot be used again
      await assert.rejects(model.forwardWindow({ ...input, cache: kv }), (e: unknown) => e instanceof InputError && /released or used up/.test(e.message));
      model.releaseKv([written, swapped, again.fresh, third.fresh]);
    });

    test('bad window inputs are InputErrors', async () => {
      const { kv } = await model.forwardWithKv(Int32Array.from([5, 6, 7]), 1, 3);
      const ok = { batch: 1, window: 1, tokens: Int32Array.of(5), positions: Int32Array.of(1), cache: kv, keyMask: Uint8Array.from([1, 0, 1, 1]) };
      await assert.rejects(model.forwardWindow({ ...ok, keyMask: Uint8Array.of(1) }), (e: unknown) => e instanceof InputError && /keyMask/.test(e.message));
      await assert.rejects(model.forwardWindow({ ...ok, positions: Int32Array.of(99999) }), (e: unknown) => e instanceof InputError && /position 99999/.test(e.message));
      await assert.rejects(model.forwardWindow({ ...ok, batch: 2, tokens: Int32Array.of(5, 5), positions: Int32Array.of(1, 1) }), (e: unknown) => e instanceof InputError);
      model.releaseKv([kv]);
    });
  });
}
