/**
 * Next-token choice for autoregressive decoding: greedy, or temperature / top-k / top-p
 * sampling (the transformers GenerationConfig semantics: temperature first, then top-k, then
 * nucleus filtering).
 */
import { softmaxRow } from '../head.js';
import type { RandomSource } from '../diffusion/types.js';

export interface SamplingOptions {
  /** 0 = greedy */
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1 };

/**
 * The filtered, renormalised distribution (float64) for one logits row, as transformers' warpers
 * build it: softmax(logits / T); `TopKLogitsWarper` keeps the tokens whose probability is at least
 * the k-th largest (ties with the k-th are all kept); `TopPLogitsWarper` then runs on the
 * renormalised top-k distribution and keeps the smallest prefix (most likely first) whose mass
 * reaches top_p (it removes a token when the mass at or below it is ≤ 1 − top_p).
 */
export function samplingDistribution(logits: Float32Array, offset: number, vocab: number, opts: SamplingOptions): Float64Array {
  const probs = softmaxRow(logits, offset, vocab, opts.temperature > 0 ? opts.temperature : 1);
  const order = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  let keep = vocab;
  if (opts.topK > 0 && opts.topK < vocab) {
    const kth = probs[order[opts.topK - 1]!]!;
    keep = opts.topK;
    while (keep < vocab && probs[order[keep]!]! >= kth) keep++;
  }
  let kept = 0;
  for (let i = 0; i < keep; i++) kept += probs[order[i]!]!;
  if (opts.topP < 1) {
    // the top-p mass is counted on the top-k distribution renormalised (HF applies TopP to the
    // logits TopK left, whose softmax is that distribution)
    let acc = 0;
    for (let i = 0; i < keep; i++) {
      acc += probs[order[i]!]! / kept;
      if (acc >= opts.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  const out = new Float64Array(vocab);
  let sum = 0;
  for (let i = 0; i < keep; i++) sum += probs[order[i]!]!;
  for (let i = 0; i < keep; i++) out[order[i]!] = probs[order[i]!]! / sum;
  return out;
}

/** Draw an index from a categorical distribution. */
export function drawCategorical(probs: Float64Array, rng: RandomSource): number {
  const u = rng.float();
  let acc = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    acc += probs[i]!;
    last = i;
    if (u < acc) return i;
  }
  return last;
}
