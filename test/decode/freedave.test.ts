import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type DiffusionOptions } from '../../src/decode/diffusion/loop.js';
import { confidence } from '../../src/decode/diffusion/confidence.js';
import { freedave } from '../../src/decode/diffusion/freedave.js';
import { resolveParams } from '../../src/decode/params.js';
import type { DiffusionStrategy } from '../../src/decode/diffusion/types.js';
import { ScriptedBidirectional, type RowScript } from '../helpers/scripted-model.js';
import { chainScript, EOS, hashScript, MASK, V } from '../helpers/canvas-models.js';
import { collectSteps } from '../helpers/steps.js';
import { Rng } from '../../src/tasks/rng.js';

const rng = { float: () => 0.5 };

async function run(script: RowScript, prompts: number[][], strategy: DiffusionStrategy, options: Partial<DiffusionOptions> & { genLength: number }) {
  const model = new ScriptedBidirectional(V, MASK, script);
  const { events, results } = await collectSteps(runDiffusion(model, prompts, strategy, [EOS], { rng, ...options }));
  return { results, events, calls: model.calls };
}

const fd = (given: Record<string, unknown> = {}) => freedave.create(resolveParams('freedave', freedave.params, given));
const k1 = () => confidence.create({ k: 1 });

test('freedave reproduces the k=1 confidence output exactly, with fewer forwards, on a left-to-right model', async () => {
  for (const blockLength of [undefined, 4]) {
    for (const eosFill of [true, false]) {
      const script = chainScript(2, 9);
      const opts = { genLength: 12, blockLength, eosFill };
      const base = await run(script, [[3, 5]], k1(), opts);
      const fast = await run(script, [[3, 5]], fd(), opts);
      assert.deepEqual(fast.results[0]!.generated, base.results[0]!.generated, `block ${blockLength} eosFill ${eosFill}`);
      assert.ok(3 * fast.results[0]!.nfe <= 2 * base.results[0]!.nfe, `nfe ${fast.results[0]!.nfe} vs ${base.results[0]!.nfe}`);
      // one batched forward per verification round: forwards == the row's NFE
      assert.equal(fast.calls, fast.results[0]!.nfe);
    }
  }
});

test('freedave equals the k=1 baseline on randomized canvas-dependent models (every prompt), never with more forwards', async () => {
  let saved = 0;
  for (let seed = 1; seed <= 24; seed++) {
    const prompts = [[3, seed % 13], [4], [5, 6, 7]];
    const window = seed % 3 === 0 ? null : seed % 3; // whole-canvas or local dependence
    const script = hashScript(seed, 0, { window, eosFrom: seed % 2 === 0 ? 6 : undefined });
    const drafts = 2 + (seed % 4);
    const blockLength = seed % 2 === 0 ? 4 : undefined;
    for (const eosFill of [true, false]) {
      const opts = { genLength: 8, blockLength, eosFill };
      // rows decode independently: compare each prompt on its own too
      const base = await run(script, prompts, k1(), opts);
      const fast = await run(script, prompts, fd({ drafts }), opts);
      for (let r = 0; r < prompts.length; r++) {
        assert.deepEqual(fast.results[r]!.generated, base.results[r]!.generated, `seed ${seed} row ${r} eosFill ${eosFill}`);
        assert.ok(fast.results[r]!.nfe <= base.results[r]!.nfe, `seed ${seed} row ${r}: ${fast.results[r]!.nfe} > ${base.results[r]!.nfe}`);
        saved += base.results[r]!.nfe - fast.results[r]!.nfe;
      }
    }
  }
  assert.ok(saved > 0, 'drafts were accepted somewhere');
});

test('freedave accepts exactly the chain of drafts whose next one-token step agrees', async () => {
  // Position g predicts token g+1. Confidence: gen 0 > 1 > 2 > 3 on an empty canvas, so the drafts
  // fill 0, then 0+1, 0+1+2, 0+1+2+3. Once gen 0 is filled, gen 2 jumps above gen 1: the baseline's
  // second commit is 2, not 1, so the chain stops after draft_0.
  const script: RowScript = (tokens) => {
    const out = new Float32Array(tokens.length * V).fill(Math.log(0.01));
    for (let i = 0; i < tokens.length; i++) {
      const g = i - 1;
      let p = [0.9, 0.8, 0.7, 0.6][g] ?? 0.9;
      if (g === 2 && tokens[1] !== MASK) p = 0.85;
      out[i * V + Math.max(0, g) + 1] = Math.log(p);
    }
    return out;
  };
  const { events, results } = await run(script, [[3]], fd({ drafts: 4, max_rounds: 1 }), { genLength: 4, eosFill: false });
  // step 1: draft_0 (gen 0) accepted, chain broken at draft_1; then the exact next step (gen 2) for free
  assert.deepEqual(events[0]!.committed.map((c) => c.position - 1), [0, 2]);
  const base = await run(script, [[3]], k1(), { genLength: 4, eosFill: false });
  assert.deepEqual(results[0]!.generated, base.results[0]!.generated);
  assert.deepEqual(base.events.map((e) => e.committed[0]!.position - 1), [0, 2, 1, 3]);
});

/** The script with the mask token ranked FIRST at every position (an undertrained head). */
function maskFirst(script: RowScript): RowScript {
  return (tokens, call) => {
    const out = script(tokens, call);
    for (let i = 0; i < tokens.length; i++) {
      let top = -Infinity;
      for (let v = 0; v < V; v++) if (v !== MASK) top = Math.max(top, out[i * V + v]!);
      out[i * V + MASK] = top + 2;
    }
    return out;
  };
}

test('freedave drafts real tokens when the head ranks the mask token first: it finishes, lossless', { timeout: 20_000 }, async () => {
  // A regression loops inside one decide() on forwards that resolve as microtasks, where the
  // test's timeout cannot fire: the model itself throws past a forward budget instead.
  const budget = 400;
  class Bounded extends ScriptedBidirectional {
    override async forward(...args: Parameters<ScriptedBidirectional['forward']>) {
      if (this.calls >= budget) throw new Error(`over ${budget} forwards: the decode loop does not end`);
      return super.forward(...args);
    }
  }
  const runBounded = async (script: RowScript, prompts: number[][], strategy: DiffusionStrategy, options: Partial<DiffusionOptions> & { genLength: number }) => {
    const model = new Bounded(V, MASK, script);
    const { events, results } = await collectSteps(runDiffusion(model, prompts, strategy, [EOS], { rng, ...options }));
    return { results, events, calls: model.calls };
  };
  const cases: { name: string; script: RowScript; prompts: number[][]; genLength: number }[] = [
    { name: 'chain', script: maskFirst(chainScript(2, 9)), prompts: [[3, 5]], genLength: 12 },
    ...[1, 2, 3, 4, 5, 6].map((seed) => ({
      name: `hash ${seed}`,
      script: maskFirst(hashScript(seed, 0, { window: seed % 3 === 0 ? null : seed % 3, eosFrom: seed % 2 === 0 ? 6 : undefined })),
      prompts: [[3, seed % 13], [4], [5, 6, 7]],
      genLength: 8,
    })),
  ];
  let saved = 0;
  for (const c of cases) {
    for (const blockLength of [undefined, 4]) {
      for (const eosFill of [true, false]) {
        const opts = { genLength: c.genLength, blockLength, eosFill };
        const base = await runBounded(c.script, c.prompts, k1(), opts);
        const fast = await runBounded(c.script, c.prompts, fd({ drafts: 4 }), opts);
        for (let r = 0; r < c.prompts.length; r++) {
          const at = `${c.name} row ${r} block ${blockLength} eosFill ${eosFill}`;
          assert.ok(!fast.results[r]!.generated.includes(MASK), `${at}: a mask left in the output`);
          assert.deepEqual(fast.results[r]!.generated, base.results[r]!.generated, at);
          assert.ok(fast.results[r]!.nfe <= base.results[r]!.nfe, `${at}: ${fast.results[r]!.nfe} > ${base.results[r]!.nfe}`);
          saved += base.results[r]!.nfe - fast.results[r]!.nfe;
        }
        // every verification round commits at least one token: a step commits more than its forwards
        for (const e of fast.events) assert.ok(e.committed.length > 0 || e.remasked.length > 0, `${c.name}: a step committed nothing`);
      }
    }
  }
  assert.ok(saved > 0, 'drafts were accepted somewhere');
});

test('freedave at T > 0 samples every round as the loop does: the output has the sampled k=1 baseline distribution', async () => {
  // Every masked position draws B (5) with probability 0.45 while the canvas has no B, 0.15 once
  // it has one, else A (4). With sampling, the baseline's trajectory is random; FreeDave's rounds
  // (drafts from the samples of the state they start from, targets from each draft's own
  // samples) must give the same distribution over outputs. Argmax in later rounds (A every
  // time) would write far fewer B's.
  const script: RowScript = (tokens) => {
    const out = new Float32Array(tokens.length * V).fill(-30);
    const pB = tokens.includes(5) ? 0.15 : 0.45;
    for (let i = 0; i < tokens.length; i++) {
      out[i * V + 4] = Math.log(1 - pB);
      out[i * V + 5] = Math.log(pB);
    }
    return out;
  };
  const runs = 600;
  const histogram = async (make: () => DiffusionStrategy): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (let seed = 1; seed <= runs; seed++) {
      const model = new ScriptedBidirectional(V, MASK, script);
      const { results } = await collectSteps(runDiffusion(model, [[3]], make(), [EOS], { genLength: 4, temperature: 1, rng: new Rng(seed), eosFill: false }));
      const key = results[0]!.generated.join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  };
  const base = await histogram(k1);
  const fast = await histogram(() => fd({ drafts: 4 }));
  let tv = 0;
  for (const key of new Set([...base.keys(), ...fast.keys()])) tv += Math.abs((base.get(key) ?? 0) - (fast.get(key) ?? 0)) / runs / 2;
  const bShare = (h: Map<string, number>) => [...h].reduce((n, [k, c]) => n + c * k.split(',').filter((t) => t === '5').length, 0) / (runs * 4);
  assert.ok(tv < 0.08, `total variation ${tv.toFixed(3)} between FreeDave and the baseline (B share ${bShare(fast).toFixed(3)} vs ${bShare(base).toFixed(3)})`);
});
