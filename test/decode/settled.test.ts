import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSettled, settledPrefix } from '../../src/decode/diffusion/settled.js';

const M = 15;
const EOS = 14;
const canvas = (...gen: number[]) => Int32Array.from([3, 3, ...gen]);

test('the settled prefix ends at the first mask or end-of-text; only an end-of-text before any mask makes the text final', () => {
  assert.deepEqual(settledPrefix(canvas(1, 2, M, EOS), 2, M, [EOS]), { end: 4, endsWithEos: false });
  assert.deepEqual(settledPrefix(canvas(1, EOS, M, 5), 2, M, [EOS]), { end: 3, endsWithEos: true });
  assert.deepEqual(settledPrefix(canvas(1, 2, 3), 2, M, [EOS]), { end: 5, endsWithEos: false });
  assert.deepEqual(settledPrefix(canvas(M, 1), 2, M, [EOS]), { end: 2, endsWithEos: false });
  // the prompt is not part of it, whatever it holds
  assert.deepEqual(settledPrefix(Int32Array.from([EOS, 1, 2]), 1, M, [EOS]), { end: 3, endsWithEos: false });
  assert.equal(isSettled(canvas(1, EOS, M), 2, M, [EOS]), true);
  assert.equal(isSettled(canvas(M, EOS), 2, M, [EOS]), false);
  assert.equal(isSettled(canvas(1, 7), 2, M, [EOS, 7]), true);
});
