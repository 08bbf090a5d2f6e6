/**
 * A Llama-style transformer in TensorFlow.js whose math is exactly what paradec's runtime runs:
 *
 *   h = embed[ids]
 *   for each layer:
 *     a = rmsnorm(h, attnNorm);  q,k,v = a·Wq, a·Wk, a·Wv;  rope(q), rope(k)  (rotate-half, theta)
 *     h += softmax(q·kᵀ / sqrt(headDim) + mask) · v · Wo
 *     m = rmsnorm(h, ffnNorm);   h += (silu(m·Wgate) * (m·Wup)) · Wdown
 *   logits = rmsnorm(h, finalNorm) · lmHead
 *
 * rmsnorm(x, w) = x * rsqrt(mean(x²) + eps) * w. Attention is bidirectional (masked diffusion,
 * LLaDA) or causal (Llama), and padding keys are masked out.
 *
 * Written around the wasm backend's fast path (see docs of the research note): the embedding is a
 * one-hot matmul, every linear layer is a 2-D matmul with a hand-written gradient using explicit
 * transposes, q/k/v and gate/up are separate matrices, and RoPE's rotate-half is a matmul with a
 * signed permutation matrix.
 *
 * Weights are kept as x·W, i.e. [in, out]; the Hugging Face layout ([out, in]) is produced on export.
 */
import { tf } from './backend.js';
import { Rng, seedFrom } from '../tasks/rng.js';

export interface ModelShape {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  ffn: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
}

export type ParamMap = Map<string, tf.Variable>;

/** Canonical parameter names (as in src/model's canonical weights) with their [in, out] shapes. */
export function paramShapes(s: ModelShape): [string, number[]][] {
  const out: [string, number[]][] = [['embed', [s.vocabSize, s.dModel]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `layers.${l}.`;
    out.push(
      [p + 'attnNorm', [s.dModel]],
      [p + 'q', [s.dModel, s.dModel]],
      [p + 'k', [s.dModel, s.dModel]],
      [p + 'v', [s.dModel, s.dModel]],
      [p + 'o', [s.dModel, s.dModel]],
      [p + 'ffnNorm', [s.dModel]],
      [p + 'gate', [s.dModel, s.ffn]],
      [p + 'up', [s.dModel, s.ffn]],
      [p + 'down', [s.ffn, s.dModel]],
    );
  }
  out.push(['finalNorm', [s.dModel]], ['lmHead', [s.dModel, s.vocabSize]]);
  return out;
}

export function countParams(s: ModelShape): number {
  return paramShapes(s).reduce((n, [, sh]) => n + sh.reduce((a, b) => a * b, 1), 0);
}

/** Seeded init: norms 1, matrices N(0, 0.02), residual outputs (o, down) scaled by 1/sqrt(2L). */
export function initParams(s: ModelShape, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seedFrom(seed, 'init'));
  const normal = (): number => {
    let u = rng.float();
    while (u <= 1e-12) u = rng.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
  };
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(s)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (name.endsWith('Norm')) a.fill(1);
    else {
      const std = name.endsWith('.o') || name.endsWith('.down') ? 0.02 / Math.sqrt(2 * s.layers) : 0.02;
      for (let i = 0; i < n; i++) a[i] = normal() * std;
    }
    out.set(name, a);
  }
  return out;
}

export function makeVariables(s: ModelShape, values: Map<string, Float32Array>): ParamMap {
  const vars: ParamMap = new Map();
  for (const [name, shape] of paramShapes(s)) {
    const v = values.get(name);
    if (!v) throw new Error(`missing parameter ${name}`);
    vars.set(name, tf.variable(tf.tensor(v, shape, "float32"), true));
  }
  return vars;
}

export async function readParams(params: ParamMap): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of params) out.set(name, (await v.data()) as Float32Array);
  return out;
}

/** y = x·W for 2-D x [N, in] and W [in, out], with gradients as untransposed 2-D matmuls. */
export const linear = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
}) as any) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w) as tf.Tensor2D;
}

/** Constant tensors that depend only on the shape and sequence length; build once per T. */
export interface RopeTables {
  T: number;
  cos: tf.Tensor2D; // [T, dModel] (per head: cat(freqs, freqs))
  sin: tf.Tensor2D;
  perm: tf.Tensor2D; // [dModel, dModel] block-diagonal rotate-half: (x·P) = per-head cat(-x2, x1)
}

export function ropeTables(s: ModelShape, T: number): RopeTables {
  const D = s.dModel;
  const hd = D / s.heads;
  const half = hd / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < s.heads; h++) {
      for (let i = 0; i < hd; i++) {
        const j = i % half;
        const invFreq = 1 / Math.pow(s.ropeTheta, (2 * j) / hd);
        // compute the angle in float64 then round, as the runtime does in f32: tiny differences only
        const ang = t * invFreq;
        cos[t * D + h * hd + i] = Math.cos(ang);
        sin[t * D + h * hd + i] = Math.sin(ang);
      }
    }
  }
  const perm = new Float32Array(D * D);
  for (let h = 0; h < s.heads; h++) {
    const b = h * hd;
    for (let j = 0; j < half; j++) {
      perm[(b + j + half) * D + (b + j)] = -1; // out[j] = -x[j+half]
      perm[(b + j) * D + (b + j + half)] = 1; // out[j+half] = x[j]
    }
  }
  return {
    T,
    cos: tf.keep(tf.tensor2d(cos, [T, D])),
    sin: tf.keep(tf.tensor2d(sin, [T, D])),
    perm: tf.keep(tf.tensor2d(perm, [D, D])),
  };
}

const ropeCache = new Map<string, RopeTables>();
/** RoPE tables cached per (shape, T); they live for the whole process. */
export function getRope(s: ModelShape, T: number): RopeTables {
  const key = `${s.dModel}/${s.heads}/${s.ropeTheta}/${T}`;
  let r = ropeCache.get(key);
  if (!r) {
    r = ropeTables(s, T);
    ropeCache.set(key, r);
  }
  return r;
}

function applyRope(x: tf.Tensor2D, B: number, r: RopeTables): tf.Tensor2D {
  const D = x.shape[1];
  const rot = linear(x, r.perm);
  const a = tf.mul(tf.reshape(x, [B, r.T, D]), r.cos);
  const b = tf.mul(tf.reshape(rot, [B, r.T, D]), r.sin);
  return tf.reshape(tf.add(a, b), [B * r.T, D]) as tf.Tensor2D;
}

/**
 * Additive attention bias [B, 1, T, T] (or broadcastable): 0 where query i may attend key j,
 * -1e9 where j is padding or (causal) j > i.
 */
export function attentionBias(keyMask: tf.Tensor2D, causal: boolean): tf.Tensor {
  const [B, T] = keyMask.shape;
  const pad = tf.reshape(tf.mul(tf.sub(1, keyMask), -1e9), [B, 1, 1, T]);
  if (!causal) return pad;
  const lower = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const c = tf.reshape(tf.mul(tf.sub(1, lower), -1e9), [1, 1, T, T]);
  return tf.add(pad, c);
}

/**
 * The transformer trunk: ids [B, T] int32, keyMask [B, T] float (1 real, 0 padding).
 * Returns the final-normed hidden states [B*T, dModel]; apply `head` for logits.
 */
export function trunk(params: ParamMap, s: ModelShape, ids: tf.Tensor2D, keyMask: tf.Tensor2D, causal: boolean): tf.Tensor2D {
  const [B, T] = ids.shape;
  const D = s.dModel;
  const H = s.heads;
  const hd = D / H;
  const P = (n: string) => params.get(n)! as unknown as tf.Tensor2D;
  const rope = getRope(s, T);
  const bias = attentionBias(keyMask, causal);
  const onehot = tf.oneHot(tf.reshape(ids, [B * T]), s.vocabSize).toFloat() as tf.Tensor2D;
  let h = linear(onehot, P('embed'));
  const scale = 1 / Math.sqrt(hd);
  const heads = (x: tf.Tensor2D) => tf.reshape(tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]), [B * H, T, hd]);
  for (let l = 0; l < s.layers; l++) {
    const p = `layers.${l}.`;
    const a = rmsNorm(h, P(p + 'attnNorm'), s.rmsNormEps);
    const q = applyRope(linear(a, P(p + 'q')), B, rope);
    const k = applyRope(linear(a, P(p + 'k')), B, rope);
    const v = linear(a, P(p + 'v'));
    const scores = tf.add(tf.reshape(tf.mul(tf.matMul(heads(q), heads(k), false, true), scale), [B, H, T, T]), bias);
    const probs = tf.reshape(tf.softmax(scores), [B * H, T, T]);
    const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, heads(v)), [B, H, T, hd]), [0, 2, 1, 3]), [B * T, D]) as tf.Tensor2D;
    h = tf.add(h, linear(ctx, P(p + 'o')));
    const m = rmsNorm(h, P(p + 'ffnNorm'), s.rmsNormEps);
    const g = linear(m, P(p + 'gate'));
    const u = linear(m, P(p + 'up'));
    const act = tf.mul(tf.mul(g, tf.sigmoid(g)), u) as tf.Tensor2D;
    h = tf.add(h, linear(act, P(p + 'down')));
  }
  return rmsNorm(h, P('finalNorm'), s.rmsNormEps);
}

/** logits [N, vocab] for hidden states [N, dModel]. */
export function head(params: ParamMap, hidden: tf.Tensor2D): tf.Tensor2D {
  return linear(hidden, params.get('lmHead')! as unknown as tf.Tensor2D);
}
