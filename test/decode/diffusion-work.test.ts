/**
 * What the denoising loop reports besides its output: the work (positions the model computed for
 * each row, next to the forward-pass count), the end-of-text fill setting, and which schedule set
 * each step's count (the base schedule's `steps`, or the strategy's own rule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type DiffusionOptions } from '../../src/decode/diffusion/loop.js';
import { confidence } from '../../src/decode/diffusion/confidence.js';
import { leftToRight } from '../../src/decode/diffusion/left-to-right.js';
import { threshold } from '../../src/decode/diffusion/threshold.js';
import { freedave } from '../../src/decode/diffusion/freedave.js';
import { ete } from '../../src/decode/diffusion/ete.js';
import { selfEdit } from '../../src/decode/diffusion/self-edit.js';
import { headFromLogits } from '../../src/decode/head.js';
import type { DiffusionStrategy } from '../../src/decode/diffusion/types.js';
import type { BidirectionalKv, CachingBidirectionalModel, DecodeHeadOutput, ForwardOptions, KvComposeSpec, WindowForwardInput } from '../../src/runtime/types.js';
import { Rng } from '../../src/tasks/rng.js';
import { ScriptedBidirectional, peaked, rowLogits } from '../helpers/scripted-model.js';
import { chainScript, hashScript } from '../helpers/canvas-models.js';
import { collectSteps } from '../helpers/steps.js';

const V = 16;
const MASK = 15;
const EOS = 14;

/** Generation position g predicts token g + 1 with confidence conf[g]; prompt positions echo themselves. */
function fixedScript(promptLength: number, conf: readonly number[]) {
  return (tokens: Int32Array) => {
    const spec: [number, number][] = [];
    for (let i = 0; i < tokens.length; i++) {
      const g = i - promptLength;
      spec.push(g >= 0 ? [g + 1, conf[g]!] : [tokens[i]!, 0.99]);
    }
    return rowLogits(V, spec);
  };
}

/** Generation position g predicts end-of-text (p = 0.95) from `eosAt` on, else token g + 1 (p = 0.9). */
function eosScript(promptLength: number, eosAt: number) {
  return (tokens: Int32Array) => {
    const spec: [number, number][] = [];
    for (let i = 0; i < tokens.length; i++) {
      const g = i - promptLength;
      spec.push(g < 0 ? [tokens[i]!, 0.99] : g >= eosAt ? [EOS, 0.95] : [g + 1, 0.9]);
    }
    return rowLogits(V, spec);
  };
}

async function run(model: ScriptedBidirectional | CachingBidirectionalModel, prompts: number[][], strategy: DiffusionStrategy, options: Partial<DiffusionOptions> & { genLength: number }) {
  return collectSteps(runDiffusion(model, prompts, strategy, [EOS], { rng: new Rng(1), ...options }));
}

/** Σ over the model's forwards of every row's real length: what it computed, padding left out. */
function positionsSeen(model: ScriptedBidirectional): number {
  return model.seen.reduce((s, rows) => s + rows.reduce((t, r) => t + r.length, 0), 0);
}

test('work: a full forward computes the row\'s own canvas, whatever the batch pads it to', async () => {
  const prompts = [[1, 2, 3], [4]];
  const model = new ScriptedBidirectional(V, MASK, fixedScript(1, [0.3, 0.9, 0.5, 0.7]));
  const { results } = await run(model, prompts, confidence.create({ k: 1 }), { genLength: 4, eosFill: false });
  assert.deepEqual(results.map((r) => r.nfe), [4, 4]);
  // each forward: 7 positions for row 0, 5 for row 1 (padded to 7 in the batch, not counted)
  assert.deepEqual(results.map((r) => r.work), [4 * 7, 4 * 5]);
  assert.equal(positionsSeen(model), 4 * 7 + 4 * 5);
});

test('work: classifier-free guidance computes every canvas twice (its unconditional twin)', async () => {
  const conf = [0.3, 0.9, 0.5, 0.7];
  const plain = await run(new ScriptedBidirectional(V, MASK, fixedScript(2, conf)), [[1, 2]], confidence.create({ k: 1 }), { genLength: 4, eosFill: false });
  const guided = await run(new ScriptedBidirectional(V, MASK, fixedScript(2, conf)), [[1, 2]], confidence.create({ k: 1 }), { genLength: 4, cfgScale: 1, eosFill: false });
  assert.equal(plain.results[0]!.nfe, 4);
  assert.equal(guided.results[0]!.nfe, 4);
  assert.equal(plain.results[0]!.work, 4 * 6);
  assert.equal(guided.results[0]!.work, 2 * 4 * 6);
});

test('work: a forward over B candidate canvases is one forward pass and B canvases of work', async () => {
  let probed = false;
  const probing: DiffusionStrategy = {
    name: 'probing',
    decide: async (row, _pred, services) => {
      if (!probed) {
        probed = true;
        await services.forwardCandidates(row, [row.canvas.slice(), row.canvas.slice(), row.canvas.slice()]);
      }
      return { commit: [...row.candidates] };
    },
  };
  const model = new ScriptedBidirectional(V, MASK, fixedScript(2, [0.9, 0.9, 0.9]));
  const { results } = await run(model, [[1, 2]], probing, { genLength: 3 });
  // the loop's forward, then one candidate forward: 2 forward passes; 1 + 3 canvases of 5 positions
  assert.equal(results[0]!.nfe, 2);
  assert.equal(results[0]!.work, (1 + 3) * 5);
  assert.equal(model.calls, 2);
});

test('work: FreeDave\'s drafts, ETE\'s probes and self-edit\'s reviews are counted canvas by canvas', async () => {
  const cases: [string, DiffusionStrategy, (p: number) => ReturnType<typeof hashScript>][] = [
    ['freedave', freedave.create({ drafts: 4, max_rounds: null }), (p) => chainScript(p, 10)],
    ['ete', ete.create({ tau: 0.9, cross_blocks: 1, cross_tau: null, explore: true, explore_width: 4 }), (p) => hashScript(5, p, { window: null, sharpness: 1 })],
    ['self-edit', selfEdit.create({ base: 'threshold', tau: 0.9, k: null, edit_threshold: 0.5, rounds: 2, score: 'masked' }), (p) => hashScript(3, p, { window: 2 })],
  ];
  for (const [name, strategy, script] of cases) {
    const model = new ScriptedBidirectional(V, MASK, script(2));
    const { results } = await run(model, [[1, 2]], strategy, { genLength: 12, blockLength: 4, eosFill: false });
    const r = results[0]!;
    // every position the model computed for this (only) row, and more than nfe canvases: some
    // forwards carried several candidate canvases
    assert.equal(r.work, positionsSeen(model), name);
    assert.equal(r.nfe, model.calls, name);
    assert.ok(r.work > r.nfe * 14, `${name}: work ${r.work} over ${r.nfe} forwards of 14 positions`);
  }
});

/**
 * A caching model whose predictions depend on the position only (position p: token p mod 13 + 1),
 * so that a windowed forward is exact; it records the shape of every call.
 */
class PositionalCachingModel implements CachingBidirectionalModel {
  readonly kind = 'bidirectional' as const;
  readonly vocabSize = V;
  readonly maskTokenId = MASK;
  readonly maxPositions = 4096;
  readonly shiftsLogits = false;
  readonly calls: string[] = [];

  private head(positions: ArrayLike<number>, batch: number, length: number, options: ForwardOptions): DecodeHeadOutput {
    const logits = new Float32Array(batch * length * V);
    for (let i = 0; i < batch * length; i++) logits.set(peaked(V, (positions[i]! % 13) + 1, 0.9), i * V);
    const head = headFromLogits(logits, batch, length, V, 4);
    if (!options.logits) delete head.logits;
    return head;
  }

  async forward(_tokens: Int32Array, batch: number, length: number, options: ForwardOptions = {}): Promise<DecodeHeadOutput> {
    this.calls.push(`full ${batch}×${length}`);
    return this.head(Array.from({ length: batch * length }, (_, i) => i % length), batch, length, options);
  }

  async forwardWithKv(tokens: Int32Array, batch: number, length: number, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; kv: BidirectionalKv }> {
    return { head: await this.forward(tokens, batch, length, options), kv: { batch, length } };
  }

  async forwardWindow(input: WindowForwardInput, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; fresh: BidirectionalKv }> {
    this.calls.push(`window ${input.batch}×${input.window}`);
    return { head: this.head(input.positions, input.batch, input.window, options), fresh: { batch: input.batch, length: input.window } };
  }

  composeKv(_base: BidirectionalKv | null, spec: KvComposeSpec): BidirectionalKv {
    return { batch: spec.batch, length: spec.length };
  }

  releaseKv(): void {}
}

test('work: a KV-cached windowed forward counts its window, a refresh the whole canvas', async () => {
  const model = new PositionalCachingModel();
  // dual cache: a full refresh at each block's first step, then the block's 4 positions
  const { results } = await run(model, [[1, 2]], confidence.create({ k: null }), { genLength: 8, steps: 8, blockLength: 4, eosFill: false, cache: { mode: 'dual' } });
  const r = results[0]!;
  assert.equal(r.nfe, 8);
  assert.equal(r.fullForwards, 2);
  assert.deepEqual(model.calls, ['full 1×10', 'window 1×4', 'window 1×4', 'window 1×4', 'full 1×10', 'window 1×4', 'window 1×4', 'window 1×4']);
  assert.equal(r.work, 2 * 10 + 6 * 4);
  // with guidance the unconditional twin has its own cache and its own windows
  const guided = await run(new PositionalCachingModel(), [[1, 2]], confidence.create({ k: null }), { genLength: 8, steps: 8, blockLength: 4, eosFill: false, cfgScale: 1, cache: { mode: 'dual' } });
  assert.equal(guided.results[0]!.work, 2 * (2 * 10 + 6 * 4));
});

test('end-of-text fill on: the run may stop before `steps`; off: a base-schedule run takes exactly `steps` forwards', async () => {
  for (const steps of [8, 4]) {
    const on = await run(new ScriptedBidirectional(V, MASK, eosScript(1, 2)), [[3]], leftToRight.create({ k: null }), { genLength: 8, steps });
    const off = await run(new ScriptedBidirectional(V, MASK, eosScript(1, 2)), [[3]], leftToRight.create({ k: null }), { genLength: 8, steps, eosFill: false });
    assert.deepEqual(on.results[0]!.generated, [1, 2, EOS, EOS, EOS, EOS, EOS, EOS]);
    assert.deepEqual(off.results[0]!.generated, on.results[0]!.generated);
    assert.equal(off.results[0]!.nfe, steps, `steps ${steps}, fill off`);
    assert.equal(on.results[0]!.nfe, steps === 8 ? 3 : 2, `steps ${steps}, fill on`);
    assert.equal(on.results[0]!.schedule.eosFill, true);
    // the fill commits the end-of-text positions the schedule had not reached
    assert.equal(on.results[0]!.schedule.eosFilled, steps === 8 ? 5 : 4);
    assert.equal(off.results[0]!.schedule.eosFill, false);
    assert.equal(off.results[0]!.schedule.eosFilled, 0);
    for (const r of [on.results[0]!, off.results[0]!]) {
      assert.equal(r.schedule.kind, 'steps');
      assert.equal(r.schedule.steps, steps);
      assert.equal(r.schedule.baseSteps, r.nfe);
    }
  }
});

test('schedule report: the base schedule, the strategy\'s own count, and threshold at its one-token floor', async () => {
  const low = Array(8).fill(0.3);
  const base = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, low)), [[3]], confidence.create({ k: null }), { genLength: 8, steps: 4, eosFill: false });
  assert.deepEqual(base.results[0]!.schedule, { kind: 'steps', steps: 4, baseSteps: 4, strategySteps: 0, oneTokenSteps: 0, guaranteeSteps: 0, eosFill: false, eosFilled: 0 });

  // a fixed k of the strategy's own: `steps` does not set the count, even where the counts agree
  const own = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, low)), [[3]], confidence.create({ k: 2 }), { genLength: 8, steps: 4, eosFill: false });
  assert.equal(own.results[0]!.nfe, 4);
  assert.equal(own.results[0]!.schedule.kind, 'strategy');
  assert.equal(own.results[0]!.schedule.strategySteps, 4);

  // threshold on a model that is never confident: it ignores `steps` and commits one token per forward
  for (const steps of [8, 4]) {
    const t = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, low)), [[3]], threshold.create({ tau: 0.9 }), { genLength: 8, steps, eosFill: false });
    const r = t.results[0]!;
    assert.equal(r.nfe, 8);
    assert.deepEqual(r.schedule, { kind: 'strategy', steps, baseSteps: 0, strategySteps: 8, oneTokenSteps: 8, guaranteeSteps: 0, eosFill: false, eosFilled: 0 });
  }
  // and on a confident one it commits everything at once
  const sure = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, Array(8).fill(0.95))), [[3]], threshold.create({ tau: 0.9 }), { genLength: 8, eosFill: false });
  assert.equal(sure.results[0]!.nfe, 1);
  assert.equal(sure.results[0]!.schedule.oneTokenSteps, 0);
});

test('schedule report: progress-guarantee steps and a strategy that follows the schedule only at times', async () => {
  const lazy: DiffusionStrategy = { name: 'lazy', decide: () => ({ commit: [] }) };
  const l = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, [0.2, 0.9, 0.4])), [[3]], lazy, { genLength: 3 });
  assert.equal(l.results[0]!.nfe, 3);
  assert.equal(l.results[0]!.schedule.guaranteeSteps, 3);
  assert.equal(l.results[0]!.schedule.kind, 'strategy');

  // the schedule's quota at the first step, everything at the second (prophet's early commit)
  const sometimes: DiffusionStrategy = {
    name: 'sometimes',
    decide: (row) => (row.step === 1 ? { commit: row.candidates.slice(0, row.quota) } : { commit: [...row.candidates] }),
  };
  const m = await run(new ScriptedBidirectional(V, MASK, fixedScript(1, Array(8).fill(0.5))), [[3]], sometimes, { genLength: 8, steps: 4, eosFill: false });
  assert.equal(m.results[0]!.nfe, 2);
  assert.deepEqual(m.results[0]!.schedule, { kind: 'mixed', steps: 4, baseSteps: 1, strategySteps: 1, oneTokenSteps: 0, guaranteeSteps: 0, eosFill: false, eosFilled: 0 });
});
