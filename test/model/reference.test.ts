import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCheckpoint, writeCheckpoint, writeRandomCheckpoint, type CheckpointDims } from '../../src/model/checkpoint.js';
import { readCanonicalTensors } from '../../src/model/weights.js';
import { referenceForward } from '../../src/model/reference.js';
import { applyRope, ropeInverseFrequencies } from '../../src/model/rope.js';
import { ARCHITECTURE_NAMES, ARCHITECTURES, type Architecture } from '../../src/model/architectures.js';
import { InputError } from '../../src/errors.js';
import { tempDir, throwsWith } from './helpers.js';

const DIMS: CheckpointDims = { vocabSize: 50, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 40, ropeTheta: 100 };

function random(arch: Architecture, dims: CheckpointDims = DIMS, seed = 11) {
  const dir = tempDir();
  writeRandomCheckpoint(dir, { architecture: arch, ...dims, seed, headDim: arch === 'qwen3' ? 12 : undefined });
  return loadCheckpoint(dir);
}

function fromValues(arch: Architecture, values: Record<string, Float32Array>, dims: CheckpointDims = DIMS) {
  const dir = tempDir();
  writeCheckpoint(dir, arch, dims, values);
  return loadCheckpoint(dir);
}

/** Logits of position t of row b. */
function at(logits: Float32Array, V: number, len: number, b: number, t: number): Float32Array {
  return logits.subarray((b * len + t) * V, (b * len + t + 1) * V);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const ROW = [5, 17, 9, 33, 2, 41, 8, 12];
const CHANGED = [5, 17, 9, 33, 2, 7, 19, 12]; // positions 5 and 6 differ

test('causal models: logits at i do not depend on later tokens, but do on earlier ones', () => {
  for (const arch of ARCHITECTURE_NAMES.filter((a) => ARCHITECTURES[a].causal)) {
    const ck = random(arch);
    const V = ck.config.vocabSize;
    const out = referenceForward(ck, [ROW, CHANGED]);
    assert.equal(out.length, 2 * ROW.length * V);
    for (let t = 0; t < 5; t++) assert.equal(maxDiff(at(out, V, 8, 0, t), at(out, V, 8, 1, t)), 0, `${arch} position ${t}`);
    for (const t of [5, 6, 7]) assert.ok(maxDiff(at(out, V, 8, 0, t), at(out, V, 8, 1, t)) > 1e-4, `${arch} position ${t} must change`);
    // the same model run bidirectionally sees the future
    const bi = referenceForward(ck, [ROW, CHANGED], { causal: false });
    assert.ok(maxDiff(at(bi, V, 8, 0, 0), at(bi, V, 8, 1, 0)) > 1e-4);
  }
});

test('bidirectional models: every position sees every token', () => {
  for (const arch of ARCHITECTURE_NAMES.filter((a) => !ARCHITECTURES[a].causal)) {
    const ck = random(arch);
    const V = ck.config.vocabSize;
    const out = referenceForward(ck, [ROW, CHANGED]);
    for (const t of [0, 1, 2, 7]) assert.ok(maxDiff(at(out, V, 8, 0, t), at(out, V, 8, 1, t)) > 1e-4, `${arch} position ${t}`);
    assert.ok(out.every(Number.isFinite));
  }
});

test('batch rows are independent and equal single-row runs', () => {
  const ck = random('llada');
  const V = ck.config.vocabSize;
  const both = referenceForward(ck, [ROW, CHANGED]);
  const second = referenceForward(ck, [CHANGED]);
  assert.deepEqual(both.subarray(8 * V), second);
  assert.notDeepEqual(both.subarray(0, 8 * V), second);
});

test('Dream: position i holds the logits computed at i-1, position 0 its own', () => {
  // LLaDA without biases and Dream with zero biases compute the same thing before the shift.
  const llada = random('llada');
  const values = readCanonicalTensors(llada.weights);
  for (let l = 0; l < DIMS.numLayers; l++) {
    values[`layers.${l}.qBias`] = new Float32Array(32);
    values[`layers.${l}.kBias`] = new Float32Array(16);
    values[`layers.${l}.vBias`] = new Float32Array(16);
  }
  const dream = fromValues('dream', values);
  assert.equal(dream.config.shiftLogits, true);
  const V = DIMS.vocabSize;
  const a = referenceForward(llada, [ROW]);
  const d = referenceForward(dream, [ROW]);
  assert.ok(maxDiff(at(d, V, 8, 0, 0), at(a, V, 8, 0, 0)) < 1e-5);
  for (let t = 1; t < 8; t++) assert.ok(maxDiff(at(d, V, 8, 0, t), at(a, V, 8, 0, t - 1)) < 1e-5, `position ${t}`);
  assert.ok(maxDiff(at(d, V, 8, 0, 3), at(a, V, 8, 0, 3)) > 1e-3, 'the shift is real');
});

test('qwen2 with zero biases equals llama; non-zero biases change the result', () => {
  const llama = random('llama');
  const values = readCanonicalTensors(llama.weights);
  const zero = { ...values };
  for (let l = 0; l < DIMS.numLayers; l++) {
    zero[`layers.${l}.qBias`] = new Float32Array(32);
    zero[`layers.${l}.kBias`] = new Float32Array(16);
    zero[`layers.${l}.vBias`] = new Float32Array(16);
  }
  const ref = referenceForward(llama, [ROW]);
  assert.ok(maxDiff(referenceForward(fromValues('qwen2', zero), [ROW]), ref) < 1e-5);
  const biased = { ...zero, 'layers.1.vBias': new Float32Array(16).fill(0.3) };
  assert.ok(maxDiff(referenceForward(fromValues('qwen2', biased), [ROW]), ref) > 1e-3);
});

test('grouped-query attention: q head h reads kv head floor(h / group)', () => {
  // 4 q heads over 2 kv heads == 4 kv heads where kv head j is a copy of kv head floor(j / 2).
  const gqa = random('llama');
  const values = readCanonicalTensors(gqa.weights);
  const D = 8;
  const H = 32;
  const mha = { ...values };
  for (let l = 0; l < DIMS.numLayers; l++) {
    for (const w of ['k', 'v'] as const) {
      const src = values[`layers.${l}.${w}`]!; // [2*D, H]
      const dst = new Float32Array(4 * D * H);
      for (let j = 0; j < 4; j++) dst.set(src.subarray(Math.floor(j / 2) * D * H, (Math.floor(j / 2) + 1) * D * H), j * D * H);
      mha[`layers.${l}.${w}`] = dst;
    }
  }
  const full = fromValues('llama', mha, { ...DIMS, numKvHeads: 4 });
  assert.ok(maxDiff(referenceForward(full, [ROW]), referenceForward(gqa, [ROW])) < 1e-5);
});

test('qwen3 normalizes q and k per head: scaling Wq changes llama, not qwen3', () => {
  const dims = { ...DIMS, headDim: 12 };
  const q3 = random('qwen3', dims);
  const values = readCanonicalTensors(q3.weights);
  const scaled = { ...values, 'layers.0.q': values['layers.0.q']!.map((x) => x * 3) };
  assert.ok(maxDiff(referenceForward(fromValues('qwen3', scaled, dims), [ROW]), referenceForward(q3, [ROW])) < 1e-4);
  const plain = Object.fromEntries(Object.entries(values).filter(([k]) => !/\.(qNorm|kNorm)$/.test(k)));
  const llama = fromValues('llama', plain, dims);
  const llamaScaled = fromValues('llama', { ...plain, 'layers.0.q': scaled['layers.0.q'] }, dims);
  assert.ok(maxDiff(referenceForward(llama, [ROW]), referenceForward(llamaScaled, [ROW])) > 1e-3);
});

test('single token, one layer: matches a hand-written computation (LLaDA gate/up roles, eps, silu)', () => {
  const dims: CheckpointDims = { vocabSize: 3, hiddenSize: 2, numLayers: 1, numHeads: 1, intermediateSize: 2, rmsNormEps: 1e-5 };
  const f = (...xs: number[]) => new Float32Array(xs);
  const values = {
    embed: f(1, 2, -1, 0.5, 0.25, -3),
    'layers.0.attnNorm': f(1, 0.5), 'layers.0.q': f(0.3, -0.2, 0.1, 0.4), 'layers.0.k': f(0.5, 0.5, -0.5, 0.5),
    'layers.0.v': f(1, 0, 0.5, -1), 'layers.0.o': f(0.2, 0.1, -0.3, 0.4),
    'layers.0.ffnNorm': f(2, 1), 'layers.0.gate': f(1, -1, 0.5, 0.5), 'layers.0.up': f(0.25, 0, 0, -0.75),
    'layers.0.down': f(1, 2, -1, 0.5), finalNorm: f(1, 1), lmHead: f(1, 0, 0, 1, 1, 1),
  };
  const ck = fromValues('llada', values, dims);
  const rms = (v: number[], w: Float32Array) => { const r = 1 / Math.sqrt((v[0]! ** 2 + v[1]! ** 2) / 2 + 1e-5); return [v[0]! * r * w[0]!, v[1]! * r * w[1]!]; };
  const mv = (m: Float32Array, v: number[]) => [m[0]! * v[0]! + m[1]! * v[1]!, m[2]! * v[0]! + m[3]! * v[1]!];
  const silu = (z: number) => z / (1 + Math.exp(-z));
  for (const tokenId of [0, 2]) {
    let x = [values.embed[tokenId * 2]!, values.embed[tokenId * 2 + 1]!];
    // one token at position 0: RoPE is the identity and attention returns v
    const v = mv(values['layers.0.v'], rms(x, values['layers.0.attnNorm']));
    const a = mv(values['layers.0.o'], v);
    x = [x[0]! + a[0]!, x[1]! + a[1]!];
    const h = rms(x, values['layers.0.ffnNorm']);
    const g = mv(values['layers.0.gate'], h);
    const u = mv(values['layers.0.up'], h);
    const m = mv(values['layers.0.down'], [silu(g[0]!) * u[0]!, silu(g[1]!) * u[1]!]);
    x = [x[0]! + m[0]!, x[1]! + m[1]!];
    const hf = rms(x, values.finalNorm);
    const expected = [hf[0]!, hf[1]!, hf[0]! + hf[1]!];
    const got = referenceForward(ck, [[tokenId]]);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-5, `token ${tokenId} logit ${i}: ${got[i]} vs ${expected[i]}`);
  }
});

test('RoPE: rotate-half pairing and relative-position invariance', () => {
  const inv = ropeInverseFrequencies({ headDim: 8, ropeTheta: 10000, ropeScaling: null });
  assert.equal(inv[0], 1);
  assert.ok(Math.abs(inv[1]! - 0.1) < 1e-15);
  const e0 = new Float64Array([1, 0, 0, 0, 0, 0, 0, 0]);
  applyRope(e0, 0, 8, 2, inv);
  assert.ok(Math.abs(e0[0]! - Math.cos(2)) < 1e-12 && Math.abs(e0[4]! - Math.sin(2)) < 1e-12, 'pairs (j, j + d/2)');
  assert.equal(e0[1], 0);
  const q = [0.3, -1, 2, 0.5, 0.1, 0.7, -0.4, 1.2];
  const k = [1, 0.2, -0.3, 0.9, -1.1, 0.4, 0.6, -0.2];
  const score = (m: number, n: number) => {
    const a = Float64Array.from(q); const b = Float64Array.from(k);
    applyRope(a, 0, 8, m, inv); applyRope(b, 0, 8, n, inv);
    return a.reduce((s, x, i) => s + x * b[i]!, 0);
  };
  assert.ok(Math.abs(score(7, 3) - score(14, 10)) < 1e-9);
  assert.ok(Math.abs(score(7, 3) - score(7, 4)) > 1e-3);
});

test('bad input: ragged rows, ids outside the vocabulary, too long', () => {
  const ck = random('llama');
  throwsWith(() => referenceForward(ck, [[1, 2], [3]]), InputError, 'row 1');
  throwsWith(() => referenceForward(ck, [[1, 50]]), InputError, 'token 50', 'position 1');
  throwsWith(() => referenceForward(ck, [[1, -1]]), InputError, 'token -1');
  const short = random('llama', { ...DIMS, maxPositions: 4 });
  throwsWith(() => referenceForward(short, [[1, 2, 3, 4, 5]]), InputError, '4 positions');
  assert.equal(referenceForward(ck, []).length, 0);
});

test('50 tokens through a 4-layer d64 model in well under a second', () => {
  const ck = random('qwen2', { vocabSize: 512, hiddenSize: 64, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 172 });
  const tokens = Array.from({ length: 50 }, (_, i) => (i * 37) % 512);
  const t0 = performance.now();
  const out = referenceForward(ck, [tokens]);
  const ms = performance.now() - t0;
  assert.equal(out.length, 50 * 512);
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
});
