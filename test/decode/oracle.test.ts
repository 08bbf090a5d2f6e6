import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type StepEvent } from '../../src/decode/diffusion/loop.js';
import { createOracle, oracle, runOracle } from '../../src/decode/diffusion/oracle.js';
import { resolveParams } from '../../src/decode/params.js';
import { returnValue } from '../../src/decode/drain.js';
import { OptionError } from '../../src/errors.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { EOS, hashScript, MASK, V } from '../helpers/canvas-models.js';
import { oneStep, rel } from '../helpers/one-step.js';

const rng = { float: () => 0.5 };

test('oracle commits exactly the masked block positions whose prediction equals the reference', async () => {
  const { row, pred, services } = oneStep({
    gen: [{ token: 1, p: 0.3 }, { token: 2, p: 0.99 }, { token: 3, p: 0.5 }, { token: 4, p: 0.6, masked: false }, { token: 5, p: 0.2 }],
    promptLength: 2,
  });
  // reference agrees at gen 0, 2 and 4 (not at 1, the most confident); gen 3 is committed already
  const s = createOracle({ references: [[1, 9, 3, 4, 5]], fillSettledTail: false });
  s.begin!(row);
  const d = await s.decide(row, pred, services);
  assert.deepEqual(rel(row, d.commit), [0, 2, 4]);
  assert.deepEqual(d.tokens, [1, 3, 5]);
  assert.equal(s.stats.forced[0], 0);
  // nothing matches: the most confident position, with the reference token
  const none = createOracle({ references: [[9, 9, 9, 4, 9]], fillSettledTail: false });
  none.begin!(row);
  const f = await none.decide(row, pred, services);
  assert.deepEqual(rel(row, f.commit), [1]);
  assert.deepEqual(f.tokens, [9]);
  assert.equal(none.stats.forced[0], 1);
});

test('oracle in the loop: every step commits exactly the matches (else one forced), output = reference', async () => {
  for (let seed = 1; seed <= 6; seed++) {
    const script = hashScript(seed, 1, { window: 1 });
    const { baseline, oracle: out } = await runOracle(new ScriptedBidirectional(V, MASK, script), [[3]], { genLength: 8, eosFill: false, rng, eosTokenIds: [EOS] });
    const ref = baseline[0]!.generated;
    assert.deepEqual(out[0]!.generated, ref);
    // replay the oracle pass and check each step against the model's predictions on the canvas before it
    const model = new ScriptedBidirectional(V, MASK, script);
    const it = runDiffusion(model, [[3]], createOracle({ references: [ref], fillSettledTail: false }), [EOS], { genLength: 8, eosFill: false, rng });
    let canvas = Int32Array.from([3, ...Array(8).fill(MASK)]);
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      const ev: StepEvent = n.value;
      const logits = script(canvas, 0);
      const argmax = (i: number) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (logits[i * V + v]! > logits[i * V + best]!) best = v;
        return best;
      };
      const matches = [];
      for (let i = 1; i < canvas.length; i++) if (canvas[i] === MASK && argmax(i) === ref[i - 1]) matches.push(i);
      const got = ev.committed.map((c) => c.position).sort((a, b) => a - b);
      if (matches.length > 0) assert.deepEqual(got, matches, `seed ${seed}`);
      else assert.equal(got.length, 1, `seed ${seed}: one forced commit`);
      for (const c of ev.committed) assert.equal(c.token, ref[c.position - 1]);
      canvas = ev.canvas.slice();
    }
  }
});

test('runOracle: same output as the k=1 baseline for every prompt, in fewer forwards overall', async () => {
  let base = 0;
  let orc = 0;
  for (let seed = 1; seed <= 10; seed++) {
    for (const eosFill of [true, false]) {
      const script = hashScript(seed, 0, { window: seed % 2 ? 2 : null, eosFrom: 5 });
      const prompts = [[3], [4, 5], [6, 7, 8]];
      const r = await runOracle(new ScriptedBidirectional(V, MASK, script), prompts, {
        genLength: 8,
        blockLength: seed % 2 ? 4 : undefined,
        eosFill,
        rng,
        eosTokenIds: [EOS],
      });
      for (let i = 0; i < prompts.length; i++) assert.deepEqual(r.oracle[i]!.generated, r.baseline[i]!.generated, `seed ${seed} row ${i}`);
      base += r.baselineNfe.reduce((a, b) => a + b, 0);
      orc += r.oracleNfe.reduce((a, b) => a + b, 0);
    }
  }
  assert.ok(orc < base, `oracle ${orc} vs baseline ${base}`);
});

test('oracle without a reference names the problem', async () => {
  const s = oracle.create(resolveParams('oracle', oracle.params, {}));
  const it = runDiffusion(new ScriptedBidirectional(V, MASK, hashScript(1, 1)), [[3]], s, [EOS], { genLength: 4, rng });
  await assert.rejects(it.next(), (e: unknown) => e instanceof OptionError && /reference/.test((e as Error).message));
  const given = oracle.create(resolveParams('oracle', oracle.params, { reference: '1,2,3,4' }));
  const results = await returnValue(runDiffusion(new ScriptedBidirectional(V, MASK, hashScript(1, 1)), [[3]], given, [EOS], { genLength: 4, rng, eosFill: false }));
  assert.deepEqual(results[0]!.generated, [1, 2, 3, 4]);
});
