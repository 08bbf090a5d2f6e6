/**
 * What one forward predicts for one row: the token each position would take (argmax, or a
 * Gumbel-max sample at temperature > 0) and its probability, with the decode head's top-k,
 * entropy and, when the strategy declared it needs them, the full logits. The mask token is never
 * a prediction (LLaDA's `generate.py` does not exclude it; see `realTokenRank` in helpers.ts for
 * why paradec must).
 */
import type { DecodeHeadOutput } from '../../runtime/types.js';
import { OptionError } from '../../errors.js';
import { softmaxRow } from '../head.js';
import { realTokenRank } from './helpers.js';
import type { Predictions, RandomSource } from './types.js';

export interface Sampling {
  /** Gumbel-max sampling temperature (0 = argmax) */
  readonly temperature: number;
  readonly rng: RandomSource;
  readonly maskTokenId: number;
  /** the strategy, named when it reads logits it did not declare */
  readonly strategyName: string;
}

/** Gumbel-max sample of one position: argmax(l/T + g) == LLaDA's exp(l) / (-log U)^T. */
export function gumbelArgmax(logits: Float32Array, offset: number, vocab: number, temperature: number, rng: RandomSource, mask: number): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let v = 0; v < vocab; v++) {
    let u = rng.float();
    if (v === mask) continue; // the mask token is never a prediction (helpers.ts `realTokenRank`)
    if (u <= 1e-300) u = 1e-300;
    const score = logits[offset + v]! / temperature - Math.log(-Math.log(u));
    if (score > bestScore) {
      bestScore = score;
      best = v;
    }
  }
  return best;
}

/** The predictions of row `b` of `head` for `canvas` (masked positions are sampled at temperature > 0). */
export function predictionsFor(head: DecodeHeadOutput, b: number, canvas: Int32Array, sampling: Sampling): Predictions {
  const { temperature, rng, maskTokenId: mask } = sampling;
  const len = canvas.length;
  const k = head.k;
  const V = head.vocabSize;
  const base = b * head.length;
  const tokens = new Int32Array(len);
  const confidence = new Float32Array(len);
  for (let pos = 0; pos < len; pos++) {
    const at = base + pos;
    if (temperature > 0 && head.logits && canvas[pos] === mask) {
      const tok = gumbelArgmax(head.logits, at * V, V, temperature, rng, mask);
      tokens[pos] = tok;
      confidence[pos] = softmaxRow(head.logits, at * V, V)[tok]!;
    } else {
      const j = realTokenRank(head.topkIds, at * k, k, mask);
      tokens[pos] = head.topkIds[at * k + j]!;
      confidence[pos] = head.topkProbs[at * k + j]!;
    }
  }
  return {
    tokens,
    confidence,
    head,
    temperature,
    topkIds: (pos) => head.topkIds.subarray((base + pos) * k, (base + pos + 1) * k),
    topkProbs: (pos) => head.topkProbs.subarray((base + pos) * k, (base + pos + 1) * k),
    entropy: (pos) => head.entropy[base + pos]!,
    logits: (pos) => {
      if (!head.logits) throw new OptionError(`strategy '${sampling.strategyName}' reads logits but did not declare needsLogits`);
      return head.logits.subarray((base + pos) * V, (base + pos + 1) * V);
    },
  };
}
