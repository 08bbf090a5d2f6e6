import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type StepEvent } from '../../src/decode/diffusion/loop.js';
import { adablock, adaptiveBlockEnd } from '../../src/decode/diffusion/adablock.js';
import { resolveParams } from '../../src/decode/params.js';
import { OptionError } from '../../src/errors.js';
import { ScriptedBidirectional, rowLogits, type RowScript } from '../helpers/scripted-model.js';
import { EOS, oneStep } from '../helpers/one-step.js';

const V = 16;
const MASK = 15;
const NL = 4; // the built-in tokenizer's newline
const rng = { float: () => 0.5 };
const make = (given: Record<string, unknown> = {}) => adablock.create(resolveParams('adablock', adablock.params, given));

test('adablock ends the block at the most confident delimiter in the 25% window when it reaches 0.3', () => {
  const gen = Array.from({ length: 16 }, (_, i) => ({ token: 1 + (i % 3), p: 0.5 }));
  // window = 0.25 * 16 = 4 positions (gen 0..3); delimiters at 1 (0.35) and 3 (0.6); one at 6 outside
  gen[1] = { token: NL, p: 0.35 };
  gen[3] = { token: NL, p: 0.6 };
  gen[6] = { token: NL, p: 0.99 };
  const a = oneStep({ gen, blockEnd: 8 });
  assert.equal(adaptiveBlockEnd(a.row, a.pred, [NL], 0.3) - a.row.promptLength, 4);
  // below δ: the default block end
  const low = gen.map((g, i) => (i === 3 ? { token: NL, p: 0.25 } : i === 1 ? { token: NL, p: 0.2 } : g));
  const b = oneStep({ gen: low, blockEnd: 8 });
  assert.equal(adaptiveBlockEnd(b.row, b.pred, [NL], 0.3) - b.row.promptLength, 8);
  // the strategy: the tokenizer's newline (the caller's RowView.newlineTokenIds) is the default
  // delimiter, as 198 (LLaDA's newline) is the reference's; without one, it says what to give
  const withNewline = (x: typeof a) => ({ ...x, row: { ...x.row, newlineTokenIds: [NL] } });
  assert.equal(make().chooseBlockEnd!(withNewline(a).row, a.pred) - a.row.promptLength, 4);
  assert.throws(() => make().chooseBlockEnd!(a.row, a.pred), /no single newline token to end blocks at; give delimiters=ID/);
  assert.equal(make({ delimiters: '5' }).chooseBlockEnd!(a.row, a.pred) - a.row.promptLength, 8, 'no delimiter: the loop block (8 < 32)');
  assert.equal(make({ delimiters: '5', block_length: 3 }).chooseBlockEnd!(a.row, a.pred) - a.row.promptLength, 3, 'no delimiter: block_length');
  // end-of-text is a delimiter only when asked (the reference has the newline only)
  const withEos = gen.map((g, i) => (i === 2 ? { token: EOS, p: 0.7 } : g));
  const c = oneStep({ gen: withEos, blockEnd: 8 });
  assert.equal(make().chooseBlockEnd!(withNewline(c).row, c.pred) - c.row.promptLength, 4);
  assert.equal(make({ eos_delimiter: true }).chooseBlockEnd!(withNewline(c).row, c.pred) - c.row.promptLength, 3);
  assert.throws(() => make({ delimiters: '99' }).chooseBlockEnd!(a.row, a.pred), /delimiter id 99 is outside the model's vocabulary of 16/);
  assert.throws(() => make({ delimiters: 'x,4' }), OptionError);
});

/** "a b NL c d e NL f ..." — newline predicted at gen 2 and 6 with 0.5; other tokens vary */
function script(promptLength: number, conf: (g: number, tokens: Int32Array) => number): RowScript {
  return (tokens) =>
    rowLogits(
      V,
      Array.from(tokens, (t, i) => {
        const g = i - promptLength;
        if (g < 0) return [t, 0.99] as const;
        return [g === 2 || g === 6 ? NL : 1 + (g % 3), conf(g, tokens)] as const;
      }),
    );
}

test('adablock in the loop: blocks follow the delimiters, threshold 0.9 inside (with or without block_length)', async () => {
  // everything at 0.95 except the newlines (0.5): the threshold rule commits the whole block but
  // the newline in one step, the newline (top-1) in the next
  const s = script(1, (g) => (g === 2 || g === 6 ? 0.5 : 0.95));
  for (const blockLength of [undefined, 16]) {
    const it = runDiffusion(new ScriptedBidirectional(V, MASK, s), [[3]], make({ delimiters: String(NL) }), [EOS], { genLength: 16, blockLength, rng, eosFill: false });
    const events: StepEvent[] = [];
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      events.push(n.value);
    }
    const steps = events.map((e) => e.committed.map((c) => c.position - 1).sort((a, b) => a - b));
    // block 1 = [0, 3) ends at the newline at gen 2; block 2 = [3, 7) ends at gen 6; then the rest
    // (no delimiter in the last window) up to the default end
    assert.deepEqual(steps, [[0, 1], [2], [3, 4, 5], [6], [7, 8, 9, 10, 11, 12, 13, 14, 15]], `block_length ${blockLength}`);
  }
});

test('adablock with semi-AR blocks falls back to block_length when no delimiter is confident', async () => {
  const s = script(1, (g) => (g === 2 || g === 6 ? 0.2 : 0.95));
  const it = runDiffusion(new ScriptedBidirectional(V, MASK, s), [[3]], make({ delimiters: String(NL) }), [EOS], { genLength: 16, blockLength: 8, rng, eosFill: false });
  const steps: number[][] = [];
  for (;;) {
    const n = await it.next();
    if (n.done) break;
    steps.push(n.value.committed.map((c) => c.position - 1).sort((a, b) => a - b));
  }
  assert.deepEqual(steps, [[0, 1, 3, 4, 5, 7], [2], [6], [8, 9, 10, 11, 12, 13, 14, 15]]);
});

test('adablock without a confident delimiter takes the paper\'s 32-token default block, not the whole canvas', async () => {
  const s: RowScript = (tokens) => rowLogits(V, Array.from(tokens, (t, i) => (i < 1 ? ([t, 0.99] as const) : ([1 + (i % 3), 0.95] as const))));
  const steps = async (given: Record<string, unknown>) => {
    const it = runDiffusion(new ScriptedBidirectional(V, MASK, s), [[3]], make(given), [EOS], { genLength: 48, rng, eosFill: false, newlineTokenIds: [NL] });
    const out: number[] = [];
    for (;;) {
      const n = await it.next();
      if (n.done) return out;
      out.push(n.value.committed.length);
    }
  };
  assert.deepEqual(await steps({}), [32, 16]);
  assert.deepEqual(await steps({ block_length: 48 }), [48]);
});
