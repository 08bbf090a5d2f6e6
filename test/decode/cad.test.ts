import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { cad } from '../../src/decode/diffusion/cad.js';
import { resolveParams } from '../../src/decode/params.js';
import { ScriptedBidirectional, peaked } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';

const V = 16;
const MASK = 15;
const EOS = 14;
const rng = { float: () => 0.5 };

/** log-probabilities: `p` on `token`, `q` on `second`, the rest spread evenly */
function twoPeaks(token: number, p: number, second: number, q: number): Float32Array {
  const out = new Float32Array(V).fill(Math.log((1 - p - q) / (V - 2)));
  out[token] = Math.log(p);
  out[second] = Math.log(q);
  return out;
}

test('cad on a scripted model: a position predicting end-of-text early waits, then takes its own prediction', async () => {
  const prompt = [3, 4];
  const G = 8;
  // generation position 0 predicts end-of-text (0.6, runner-up 11 at 0.38) until half the canvas is
  // written, then token 9 at 0.95; positions 1..7 predict g+1 at 0.5 (below tau: one per step)
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V);
    let written = 0;
    for (let i = prompt.length; i < tokens.length; i++) if (tokens[i] !== MASK) written += 1;
    for (let i = 0; i < tokens.length; i++) {
      const g = i - prompt.length;
      if (g < 0) out.set(peaked(V, tokens[i]!, 0.99), i * V);
      else if (g === 0) out.set(written < G / 2 ? twoPeaks(EOS, 0.6, 11, 0.38) : peaked(V, 9, 0.95), i * V);
      else out.set(peaked(V, g + 1, 0.5), i * V);
    }
    return out;
  };
  const model = new ScriptedBidirectional(V, MASK, script);
  const strategy = cad.create(resolveParams('cad', cad.params, {}));
  const { events, results } = await collectSteps(runDiffusion(model, [prompt], strategy, [EOS], { genLength: G, blockLength: G, rng }));
  const order = events.map((e) => e.committed.map((c) => c.position - prompt.length));
  // position 0 is not committed while it predicts end-of-text (the reference's −∞ confidence):
  // four steps of one token each write positions 1..4, then position 0 takes its own token 9
  assert.deepEqual(order.slice(0, 5), [[1], [2], [3], [4], [0]]);
  // the runner-up of the end-of-text prediction (11) is never written
  assert.deepEqual(results[0]!.generated, [9, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(order.every((c) => c.length >= 1), 'every step commits');
});
