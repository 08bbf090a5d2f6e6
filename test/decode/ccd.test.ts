import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { ccd, coherentTarget } from '../../src/decode/diffusion/ccd.js';
import { resolveParams } from '../../src/decode/params.js';
import { ScriptedBidirectional, rowLogits, type RowScript } from '../helpers/scripted-model.js';

const V = 16;
const MASK = 15;
const EOS = 14;
const rng = { float: () => 0.5 };
const make = (given: Record<string, unknown> = {}) => ccd.create(resolveParams('ccd', ccd.params, given));

async function perStep(script: RowScript, given: Record<string, unknown> = {}, genLength = 8) {
  const it = runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], make(given), [EOS], { genLength, rng, eosFill: false });
  const steps: { position: number; token: number }[][] = [];
  for (;;) {
    const n = await it.next();
    if (n.done) return steps;
    steps.push(n.value.committed.map((c) => ({ position: c.position - 1, token: c.token })));
  }
}

/** every position at 0.95; `flip`: its token alternates between two values every forward */
const script = (flip: boolean): RowScript => (tokens, call) =>
  rowLogits(V, Array.from(tokens, (t, i) => (i === 0 ? [t, 0.99] : [1 + ((i + (flip ? call % 2 : 0)) % 13), 0.95 - 0.001 * i] as const)));

test('ccd: the budget grows with consistency — agreeing windows unlock many tokens, flip-flopping ones do not', async () => {
  const stable = await perStep(script(false));
  // window W = 3: one token per step (the schedule) until positions have 3 agreeing steps, then all
  assert.deepEqual(stable.map((s) => s.length), [1, 1, 6]);
  const flipping = await perStep(script(true));
  // same confidences, but the prediction changes every step: the window never agrees, k=1 per step
  assert.deepEqual(flipping.map((s) => s.length), Array(8).fill(1));
  // a shorter window is less cautious
  const w2 = await perStep(script(false), { window: 2 });
  assert.deepEqual(w2.map((s) => s.length), [1, 7]);
});

test('ccd commits the window-averaged token: a one-step flip does not change what is committed', () => {
  const d = (tok: number, p: number, alt: number, q: number) => ({ ids: [tok, alt], probs: [p, q], other: 1 - p - q });
  // two steps said 5 (0.9), the current one says 6 (0.6) with 5 second (0.3)
  const t = coherentTarget([d(5, 0.9, 6, 0.05), d(5, 0.9, 6, 0.05), d(6, 0.6, 5, 0.3)]);
  assert.equal(t.token, 5);
  assert.ok(Math.abs(t.score - 0.7) < 1e-9);
  assert.ok(t.mi > 0.05, `mi ${t.mi}`);
  // identical steps: no mutual information
  const same = coherentTarget([d(5, 0.9, 6, 0.05), d(5, 0.9, 6, 0.05)]);
  assert.ok(same.mi < 1e-12 && same.token === 5);
});

/** a logits row: `tok` at p, `alt` at q, the rest spread evenly (never the mask) */
function dist(tok: number, p: number, alt = -1, q = 0): Float32Array {
  const out = new Float32Array(V).fill(Math.log((1 - p - q) / (V - (alt >= 0 ? 3 : 2))));
  out[tok] = Math.log(p);
  if (alt >= 0) out[alt] = Math.log(q);
  out[MASK] = -30;
  return out;
}

test('ccd in the loop commits the rectified token, not the current argmax', async () => {
  // gen 0 says 5 (0.9) on forwards 0 and 1, then 6 (0.6) with 5 second (0.3). gen 1 and 2 are more
  // confident, so with k = 1 they go first and gen 0 is committed at step 3, after the flip.
  const s: RowScript = (tokens, call) => {
    const out = new Float32Array(tokens.length * V);
    out.set(dist(tokens[0]!, 0.99), 0);
    out.set(call < 2 ? dist(5, 0.9) : dist(6, 0.6, 5, 0.3), V);
    out.set(dist(9, 0.97), 2 * V);
    out.set(dist(10, 0.96), 3 * V);
    return out;
  };
  const steps = await perStep(s, { k: 1 }, 3);
  assert.deepEqual(steps, [[{ position: 1, token: 9 }], [{ position: 2, token: 10 }], [{ position: 0, token: 5 }]]);
  // window 1 and no fast track (tau 1) = plain confidence k=1: the current argmax, 6
  const plain = await perStep(s, { k: 1, window: 1, tau: 1 }, 3);
  assert.deepEqual(plain[2], [{ position: 0, token: 6 }]);
});
