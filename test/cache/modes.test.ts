/**
 * The cache modes in the denoising loop, on tiny random checkpoints compiled to ONNX.
 *
 * - refresh = 1: every mode gives exactly the uncached output (tokens, commit steps, NFE), for
 *   strategies that read only the block, that read beyond it (ETE, prophet), that forward
 *   candidates (FreeDave, ETE), that review the full canvas (self-edit), with CFG and sampling,
 *   in batches whose rows have different prompt lengths (so different block positions).
 * - default refresh: the forward count is the strategy's, full forwards are counted separately,
 *   and batched rows equal the same rows decoded alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type DiffusionOptions, type DiffusionRowResult } from '../../src/decode/diffusion/loop.js';
import { CACHE_MODES, DiffusionKvCache, resolveCacheOptions, type CacheMode } from '../../src/decode/diffusion/cache.js';
import { returnValue } from '../../src/decode/drain.js';
import { findDiffusionStrategy } from '../../src/decode/registry.js';
import { resolveParams } from '../../src/decode/params.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { OptionError } from '../../src/errors.js';
import { Rng } from '../../src/tasks/rng.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { tempDir, tinyCheckpoint } from '../runtime/helpers.js';

const tmp = tempDir('kvmodes');
after(() => tmp.cleanup());

const CACHED = CACHE_MODES.filter((m) => m !== 'none');

function strategy(name: string, params: Record<string, unknown> = {}) {
  const def = findDiffusionStrategy(name);
  return def.create(resolveParams(def.name, def.params, params));
}

async function decode(
  model: OnnxBidirectionalModel,
  prompts: number[][],
  name: string,
  options: Partial<DiffusionOptions> & { genLength: number },
  params: Record<string, unknown> = {},
): Promise<DiffusionRowResult[]> {
  return returnValue(runDiffusion(model, prompts, strategy(name, params), [2], { rng: new Rng(7), ...options }));
}

const PROMPTS = [[5, 9, 14, 20, 11], [7, 30, 8]];

for (const arch of ['llada', 'dream'] as const) {
  describe(`${arch}: cache modes`, () => {
    let model: OnnxBidirectionalModel;
    before(async () => {
      // sharper logits than the default random init, so strategies commit several tokens a step
      const ck = tinyCheckpoint(tmp.dir, arch, { seed: 11, scale: 3 });
      const m = await compileModel(ck, { cacheDir: `${tmp.dir}/cache`, threads: 1 });
      assert.ok(m instanceof OnnxBidirectionalModel);
      model = m;
    });
    after(() => model.dispose());

    const cases: [string, Partial<DiffusionOptions> & { genLength: number }, Record<string, unknown>][] = [
      ['confidence', { genLength: 12, steps: 6, blockLength: 4 }, {}],
      ['threshold', { genLength: 12, blockLength: 4 }, { tau: 0.3 }],
      ['ete', { genLength: 12, blockLength: 4 }, { tau: 0.3 }],
      ['freedave', { genLength: 8, blockLength: 4 }, {}],
      ['self-edit', { genLength: 8, blockLength: 4 }, {}],
      ['prophet', { genLength: 12, steps: 12, blockLength: 4 }, {}],
      ['confidence', { genLength: 8, steps: 4, blockLength: 4, cfgScale: 1, temperature: 0.7 }, {}],
    ];

    test('refresh=1: every mode gives exactly the uncached output, for every kind of strategy, batch 2', async () => {
      for (const [name, options, params] of cases) {
        const base = await decode(model, PROMPTS, name, options, params);
        for (const mode of CACHED) {
          const cached = await decode(model, PROMPTS, name, { ...options, cache: { mode, refresh: 1 } }, params);
          const what = `${name} ${JSON.stringify(options)} cache=${mode}`;
          base.forEach((b, r) => {
            assert.deepEqual(cached[r]!.generated, b.generated, `${what} row ${r}`);
            assert.deepEqual(cached[r]!.committedAt, b.committedAt, `${what} row ${r}`);
            assert.equal(cached[r]!.nfe, b.nfe, `${what} row ${r}`);
            assert.equal(cached[r]!.fullForwards, b.nfe, `${what}: every forward is full`);
            assert.equal(cached[r]!.work, b.work, `${what}: every forward computes the whole canvas`);
          });
        }
      }
    });

    test('default refresh: fewer full forwards, the refresh triggers of each mode, valid canvases', async () => {
      // (the forward count of a fixed schedule is the same only while no row predicts the mask
      // token or an early end-of-text, which cached predictions may change: not asserted here)
      const options = { genLength: 16, steps: 8, blockLength: 4, eosFill: false };
      for (const mode of CACHED) {
        const cached = await decode(model, PROMPTS, 'confidence', { ...options, cache: { mode } });
        cached.forEach((c, r) => {
          assert.ok(c.nfe >= 8, `${mode} row ${r}`);
          assert.ok(c.fullForwards < c.nfe, `${mode} row ${r}: ${c.fullForwards} full of ${c.nfe}`);
          // the work counts a windowed forward's window, at most the canvas (vicinity's default
          // margin of 16 covers all of these small canvases; the other modes' windows are smaller)
          const canvas = PROMPTS[r]!.length + 16;
          assert.ok(c.work > c.fullForwards * canvas && c.work <= c.nfe * canvas, `${mode} row ${r}: work ${c.work}`);
          if (mode !== 'vicinity') assert.ok(c.work < c.nfe * canvas, `${mode} row ${r}: work ${c.work} of ${c.nfe} × ${canvas}`);
          assert.equal(c.generated.length, 16);
          assert.ok(!c.generated.includes(model.maskTokenId), `${mode}: no mask left`);
          // prefix, dual and vicinity refresh once per block
          if (mode === 'prefix' || mode === 'dual' || mode === 'vicinity') assert.equal(c.fullForwards, 4, `${mode} row ${r}`);
        });
      }
      // refresh=N adds periodic refreshes: dual with refresh 2 refreshes every other step
      const two = await decode(model, PROMPTS, 'confidence', { ...options, cache: { mode: 'dual', refresh: 2 } });
      assert.ok(two[0]!.fullForwards >= two[0]!.nfe / 2, `${two[0]!.fullForwards} of ${two[0]!.nfe}`); // block starts, and every other step
      const delayed = await decode(model, PROMPTS, 'confidence', { ...options, cache: { mode: 'delayed', refresh: 3 } });
      assert.equal(delayed[0]!.fullForwards, Math.ceil(delayed[0]!.nfe / 3)); // steps 1, 4, 7, …
    });

    test('batched rows (own prompt lengths, own blocks) equal the same rows decoded alone', async () => {
      for (const mode of ['dual', 'prefix', 'delayed', 'window', 'vicinity'] as CacheMode[]) {
        for (const name of ['threshold', 'confidence']) {
          const options = { genLength: 12, steps: 6, blockLength: 4, cache: { mode } };
          const params = name === 'threshold' ? { tau: 0.3 } : {};
          const batched = await decode(model, PROMPTS, name, options, params);
          for (let r = 0; r < PROMPTS.length; r++) {
            const alone = await decode(model, [PROMPTS[r]!], name, options, params);
            assert.deepEqual(batched[r]!.generated, alone[0]!.generated, `${mode} ${name} row ${r}`);
            assert.equal(batched[r]!.nfe, alone[0]!.nfe, `${mode} ${name} row ${r}`);
            assert.equal(batched[r]!.fullForwards, alone[0]!.fullForwards, `${mode} ${name} row ${r}`);
          }
        }
      }
    });

    test('windows compute fewer positions than the canvas', async () => {
      for (const mode of CACHED) {
        const cache = new DiffusionKvCache(model, { mode, margin: 2 });
        const canvas = Int32Array.from([...PROMPTS[0]!, ...new Array<number>(16).fill(model.maskTokenId)]);
        const row = { id: 0, focusStart: 5, focusEnd: 9 };
        const first = await cache.forward(canvas, 1, canvas.length, { rows: [row] });
        assert.deepEqual(first.full, [true]);
        canvas[6] = 17;
        const second = await cache.forward(canvas, 1, canvas.length, { rows: [row] });
        assert.deepEqual(second.full, [false], mode);
        assert.equal(second.head.length, canvas.length);
        assert.ok(cache.stats.windowPositions < cache.stats.canvasPositions, `${mode}: ${cache.stats.windowPositions} of ${cache.stats.canvasPositions}`);
        cache.dispose();
      }
    });
  });
}

test('cache options are checked; a model without keys/values cannot cache', async () => {
  assert.throws(() => resolveCacheOptions({ mode: 'bogus' as CacheMode }), OptionError);
  assert.throws(() => resolveCacheOptions({ mode: 'dual', refresh: 0 }), OptionError);
  assert.deepEqual(resolveCacheOptions({ mode: 'dual' }).refresh, null);
  assert.equal(resolveCacheOptions({ mode: 'delayed' }).refresh, 8);
  assert.equal(resolveCacheOptions({ mode: 'window' }).refresh, 32);
  const scripted = new ScriptedBidirectional(16, 15, (t) => new Float32Array(t.length * 16));
  const it = runDiffusion(scripted, [[1, 2]], strategy('confidence'), [14], { genLength: 4, rng: new Rng(1), cache: { mode: 'dual' } });
  await assert.rejects(it.next(), (e: unknown) => e instanceof OptionError && /keys\/values/.test(e.message));
});
