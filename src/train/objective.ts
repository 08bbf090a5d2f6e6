/**
 * The two training objectives, as losses over a tokenized batch.
 *
 * Masked diffusion (LLaDA SFT): per row t ~ U(eps, 1); every answer-canvas token (the answer,
 * then end-of-text padding up to the canvas length) is replaced by the mask token with
 * probability t; the prompt is never masked. Loss = Σ_rows Σ_masked CE / t / canvasLength,
 * averaged over rows (LLaDA normalises by the answer length, which includes its EOS padding).
 *
 * Causal LM: next-token cross-entropy on the answer tokens and the final end-of-text, averaged
 * over those tokens.
 */
import { tf } from './backend.js';
import { head, trunk, type ModelShape, type ParamMap } from './model.js';
import type { Rng } from '../tasks/rng.js';

export type Objective = 'diffusion' | 'causal';

/** A tokenized batch, row-major [B, T], right-padded. */
export interface Batch {
  B: number;
  T: number;
  /** model input ids */
  input: Int32Array;
  /** target ids (same position for diffusion, next token for causal) */
  target: Int32Array;
  /** per-position loss weight; the loss is Σ weight·CE / weightNorm */
  weight: Float32Array;
  weightNorm: number;
  /** 1 = real token, 0 = padding */
  keyMask: Float32Array;
  /** tokens actually trained on (for tokens/s) */
  tokens: number;
}

/** A training sequence before masking: prompt tokens, then the answer region. */
export interface Sequence {
  prompt: number[];
  /** causal: answer tokens + eos. diffusion: the canvas (answer + eos padding, fixed length) */
  answer: number[];
}

export const DIFFUSION_EPS = 1e-3;

/** Build a masked-diffusion batch; masking drawn from `rng`. */
export function diffusionBatch(seqs: Sequence[], maskId: number, padId: number, rng: Rng, T0?: number): Batch {
  const B = seqs.length;
  const T = T0 ?? roundUp(Math.max(...seqs.map((s) => s.prompt.length + s.answer.length)), 4);
  const input = new Int32Array(B * T).fill(padId);
  const target = new Int32Array(B * T).fill(padId);
  const weight = new Float32Array(B * T);
  const keyMask = new Float32Array(B * T);
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    const { prompt, answer } = seqs[b]!;
    const t = DIFFUSION_EPS + (1 - DIFFUSION_EPS) * rng.float();
    let o = b * T;
    for (const id of prompt) {
      input[o] = id;
      target[o] = id;
      keyMask[o] = 1;
      o++;
    }
    for (const id of answer) {
      const masked = rng.float() < t;
      input[o] = masked ? maskId : id;
      target[o] = id;
      keyMask[o] = 1;
      if (masked) weight[o] = 1 / t / answer.length;
      o++;
    }
    tokens += prompt.length + answer.length;
  }
  return { B, T, input, target, weight, weightNorm: B, keyMask, tokens };
}

/** Build a causal batch: input = seq[:-1], target = seq[1:], weight on answer targets. */
export function causalBatch(seqs: Sequence[], padId: number, T0?: number): Batch {
  const B = seqs.length;
  const T = T0 ?? roundUp(Math.max(...seqs.map((s) => s.prompt.length + s.answer.length - 1)), 4);
  const input = new Int32Array(B * T).fill(padId);
  const target = new Int32Array(B * T).fill(padId);
  const weight = new Float32Array(B * T);
  const keyMask = new Float32Array(B * T);
  let n = 0;
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    const full = [...seqs[b]!.prompt, ...seqs[b]!.answer];
    const p = seqs[b]!.prompt.length;
    for (let i = 0; i + 1 < full.length; i++) {
      input[b * T + i] = full[i]!;
      target[b * T + i] = full[i + 1]!;
      keyMask[b * T + i] = 1;
      if (i + 1 >= p) {
        weight[b * T + i] = 1;
        n++;
      }
    }
    tokens += full.length - 1;
  }
  return { B, T, input, target, weight, weightNorm: Math.max(1, n), keyMask, tokens };
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * dParallel's certainty forcing ("dParallel: Learnable Parallel Decoding for dLLMs", 2025;
 * czg1225/dParallel): besides the cross-entropy, `weight` × the mean entropy of
 * softmax(logits / `temperature`) over the masked positions the model already predicts correctly
 * (argmax = target). It sharpens the marginals the model has right, so a confidence-ordered
 * decoder commits them early and together instead of mixing modes. dParallel: weight 2, T 0.5.
 */
export interface CertaintyForcing {
  weight: number;
  temperature: number;
}

/** Scalar loss for a batch (call inside tf.variableGrads / tf.tidy). */
export function batchLoss(params: ParamMap, shape: ModelShape, objective: Objective, batch: Batch, certainty?: CertaintyForcing): tf.Scalar {
  const { B, T } = batch;
  const ids = tf.tensor2d(batch.input, [B, T], 'int32');
  const mask = tf.tensor2d(batch.keyMask, [B, T]);
  const h = trunk(params, shape, ids, mask, objective === 'causal');
  const logits = head(params, h);
  const logp = tf.logSoftmax(logits);
  const targets = tf.tensor1d(batch.target, 'int32');
  const onehot = tf.oneHot(targets, shape.vocabSize).toFloat();
  const nll = tf.neg(tf.sum(tf.mul(logp, onehot), -1));
  const w = tf.tensor1d(batch.weight);
  const ce = tf.div(tf.sum(tf.mul(nll, w)), batch.weightNorm) as tf.Scalar;
  if (!certainty || certainty.weight === 0 || objective !== 'diffusion') return ce;
  // which positions count is a constant of the batch: read it out and back in so that no
  // gradient is asked of argMax/equal (tf.variableGrads would trace through them)
  const argmax = tf.argMax(logits, -1).dataSync(); // logits are [B·T, vocab]
  const pickedData = new Float32Array(B * T);
  let count = 0;
  for (let i = 0; i < B * T; i++) {
    if (batch.weight[i]! > 0 && argmax[i] === batch.target[i]) {
      pickedData[i] = 1;
      count += 1;
    }
  }
  if (count === 0) return ce;
  const picked = tf.tensor1d(pickedData);
  const tempered = tf.logSoftmax(tf.div(logits, certainty.temperature));
  const entropy = tf.neg(tf.sum(tf.mul(tf.exp(tempered), tempered), -1));
  return tf.add(ce, tf.mul(certainty.weight / count, tf.sum(tf.mul(entropy, picked)))) as tf.Scalar;
}
