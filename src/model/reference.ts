/**
 * A plain TypeScript forward pass: the ground truth the compiled ONNX graphs are tested against.
 *
 * Written for clarity, not speed: one row at a time, float64 activations and accumulators (so
 * the reference's own rounding is negligible next to the graph's float32), no fusion. The
 * computation, for every architecture paradec supports:
 *
 *   x = embed[tokens]
 *   per layer:
 *     h = rmsnorm(x) * attnNorm
 *     q, k, v = h Wqᵀ (+bq), h Wkᵀ (+bk), h Wvᵀ (+bv)
 *     qwen3: q, k = per-head rmsnorm(q) * qNorm, rmsnorm(k) * kNorm
 *     q, k = rope(q), rope(k)            rotate-half, position = index in the row
 *     a = softmax(q kᵀ / sqrt(headDim) [+ causal mask]) v     grouped-query: q head h uses kv head h / (H/Hkv)
 *     x = x + a Woᵀ
 *     h = rmsnorm(x) * ffnNorm
 *     x = x + (silu(h Wgateᵀ) * (h Wupᵀ)) Wdownᵀ
 *   logits = (rmsnorm(x) * finalNorm) Wlmᵀ
 *   Dream (shiftLogits): position i returns the logits computed at i-1; position 0 keeps its own.
 */
import { InputError } from '../errors.js';
import { readTensorF32, type TensorEntry } from './safetensors.js';
import type { LayerWeights, ModelConfig, ModelWeights } from './types.js';
import { applyRope, ropeInverseFrequencies } from './rope.js';

/** What the reference needs of a checkpoint (a loaded Checkpoint satisfies it). */
export interface ReferenceModel {
  config: ModelConfig;
  weights: ModelWeights;
}

export interface ReferenceOptions {
  /** Override the config's attention pattern (default: config.causal). */
  causal?: boolean;
}

interface DecodedLayer {
  attnNorm: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; o: Float32Array;
  qBias: Float32Array | null; kBias: Float32Array | null; vBias: Float32Array | null;
  qNorm: Float32Array | null; kNorm: Float32Array | null;
  ffnNorm: Float32Array; gate: Float32Array; up: Float32Array; down: Float32Array;
}

interface Decoded {
  embed: Float32Array;
  layers: DecodedLayer[];
  finalNorm: Float32Array;
  lmHead: Float32Array;
}

/** Decoded weights per ModelWeights object, so repeated calls in a test do not re-read files. */
const cache = new WeakMap<ModelWeights, Decoded>();

function decode(weights: ModelWeights): Decoded {
  const hit = cache.get(weights);
  if (hit) return hit;
  const read = (e: TensorEntry): Float32Array => readTensorF32(e);
  const maybe = (e: TensorEntry | undefined): Float32Array | null => (e ? read(e) : null);
  const embed = read(weights.embed);
  const decoded: Decoded = {
    embed,
    layers: weights.layers.map((l: LayerWeights) => ({
      attnNorm: read(l.attnNorm), q: read(l.q), k: read(l.k), v: read(l.v), o: read(l.o),
      qBias: maybe(l.qBias), kBias: maybe(l.kBias), vBias: maybe(l.vBias),
      qNorm: maybe(l.qNorm), kNorm: maybe(l.kNorm),
      ffnNorm: read(l.ffnNorm), gate: read(l.gate), up: read(l.up), down: read(l.down),
    })),
    finalNorm: read(weights.finalNorm),
    lmHead: weights.lmHead === weights.embed ? embed : read(weights.lmHead),
  };
  cache.set(weights, decoded);
  return decoded;
}

/** y[t, o] = Σ_i x[t, i] W[o, i] (+ b[o]); W in HF linear layout [out, in]. */
function linear(x: Float64Array, rows: number, inDim: number, w: Float32Array, outDim: number, bias: Float32Array | null): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let t = 0; t < rows; t++) {
    const xo = t * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < inDim; i++) s += x[xo + i]! * w[wo + i]!;
      y[t * outDim + o] = s;
    }
  }
  return y;
}

/** RMSNorm of each `dim`-sized group: x * 1/sqrt(mean(x²) + eps) * w. */
function rmsNorm(x: Float64Array, dim: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += dim) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[base + i]! * x[base + i]!;
    const r = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[base + i] = x[base + i]! * r * w[i]!;
  }
  return y;
}

const silu = (z: number): number => z / (1 + Math.exp(-z));

/** Logits [length, vocab] for one row, before any Dream shift. */
function forwardRow(c: ModelConfig, d: Decoded, ids: number[], causal: boolean, invFreq: Float64Array): Float64Array {
  const T = ids.length;
  const H = c.hiddenSize;
  const D = c.headDim;
  const nH = c.numHeads;
  const nKv = c.numKvHeads;
  const group = nH / nKv;
  const eps = c.rmsNormEps;
  const scale = 1 / Math.sqrt(D);

  const x = new Float64Array(T * H);
  for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) x[t * H + i] = d.embed[ids[t]! * H + i]!;

  for (const L of d.layers) {
    const h = rmsNorm(x, H, L.attnNorm, eps);
    let q = linear(h, T, H, L.q, nH * D, L.qBias);
    let k = linear(h, T, H, L.k, nKv * D, L.kBias);
    const v = linear(h, T, H, L.v, nKv * D, L.vBias);
    if (L.qNorm && L.kNorm) {
      q = rmsNorm(q, D, L.qNorm, eps);
      k = rmsNorm(k, D, L.kNorm, eps);
    }
    for (let t = 0; t < T; t++) {
      for (let hd = 0; hd < nH; hd++) applyRope(q, (t * nH + hd) * D, D, t, invFreq);
      for (let hd = 0; hd < nKv; hd++) applyRope(k, (t * nKv + hd) * D, D, t, invFreq);
    }
    const attn = new Float64Array(T * nH * D);
    const scores = new Float64Array(T);
    for (let hd = 0; hd < nH; hd++) {
      const kvh = Math.floor(hd / group);
      for (let t = 0; t < T; t++) {
        const qo = (t * nH + hd) * D;
        const last = causal ? t : T - 1;
        let max = -Infinity;
        for (let s = 0; s <= last; s++) {
          const ko = (s * nKv + kvh) * D;
          let dot = 0;
          for (let j = 0; j < D; j++) dot += q[qo + j]! * k[ko + j]!;
          scores[s] = dot * scale;
          if (scores[s]! > max) max = scores[s]!;
        }
        let sum = 0;
        for (let s = 0; s <= last; s++) {
          scores[s] = Math.exp(scores[s]! - max);
          sum += scores[s]!;
        }
        for (let s = 0; s <= last; s++) {
          const p = scores[s]! / sum;
          const vo = (s * nKv + kvh) * D;
          for (let j = 0; j < D; j++) attn[qo + j] = attn[qo + j]! + p * v[vo + j]!;
        }
      }
    }
    const attnOut = linear(attn, T, nH * D, L.o, H, null);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + attnOut[i]!;

    const h2 = rmsNorm(x, H, L.ffnNorm, eps);
    const gate = linear(h2, T, H, L.gate, c.intermediateSize, null);
    const up = linear(h2, T, H, L.up, c.intermediateSize, null);
    for (let i = 0; i < gate.length; i++) gate[i] = silu(gate[i]!) * up[i]!;
    const down = linear(gate, T, c.intermediateSize, L.down, H, null);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + down[i]!;
  }
  const hf = rmsNorm(x, H, d.finalNorm, eps);
  return linear(hf, T, H, d.lmHead, c.vocabSize, null);
}

/**
 * Logits [batch, length, vocab] (row-major) for equal-length rows of token ids.
 * Throws InputError for ragged rows or ids outside the vocabulary.
 */
export function referenceForward(model: ReferenceModel, tokens: number[][], options: ReferenceOptions = {}): Float32Array {
  const c = model.config;
  const causal = options.causal ?? c.causal;
  const batch = tokens.length;
  const length = batch > 0 ? tokens[0]!.length : 0;
  tokens.forEach((row, b) => {
    if (row.length !== length) throw new InputError(`referenceForward: row ${b} has ${row.length} tokens, row 0 has ${length}`);
    row.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
        throw new InputError(`referenceForward: token ${id} at row ${b}, position ${t} is outside the vocabulary (0..${c.vocabSize - 1})`);
      }
    });
  });
  if (length > c.maxPositions) {
    throw new InputError(`referenceForward: ${length} tokens exceed the model's ${c.maxPositions} positions`);
  }
  const d = decode(model.weights);
  const invFreq = ropeInverseFrequencies(c);
  const V = c.vocabSize;
  const out = new Float32Array(batch * length * V);
  tokens.forEach((row, b) => {
    const logits = forwardRow(c, d, row, causal, invFreq);
    for (let t = 0; t < length; t++) {
      const src = c.shiftLogits && t > 0 ? t - 1 : t;
      out.set(logits.subarray(src * V, (src + 1) * V), (b * length + t) * V);
    }
  });
  return out;
}
