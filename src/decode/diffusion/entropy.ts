/**
 * Entropy ranking — Dream's `entropy` algorithm (Ye et al., 2025, "Dream 7B"): commit the masked
 * positions whose predictive distribution has the lowest entropy.
 *
 * Follows Dream's `generation_utils.py`: `sample_tokens(..., neg_entropy=True)` scores by the
 * negative entropy of softmax(logits / temperature) at temperature > 0 (the distribution the
 * token is sampled from), of the plain softmax at temperature 0 (the decode head's entropy);
 * `_sample` commits the k best scores, or with `alg_temp` > 0 draws the k positions from
 * softmax(score / alg_temp) (ranking.ts `commitScored`, with the loop's rng). Dream's top_p /
 * top_k filtering of the logits has no paradec counterpart.
 */
import { ALG_TEMP_PARAM, commitScored, scaledProbs, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy, type Predictions } from './types.js';

/** negative entropy (nats) of `pos` (temperature-scaled at T > 0) */
function negEntropy(pred: Predictions, pos: number): number {
  const probs = scaledProbs(pred, pos);
  if (!probs) return -pred.entropy(pos);
  let s = 0;
  for (const q of probs) if (q > 0) s += q * Math.log(q);
  return s;
}

export const entropy = defineDiffusionStrategy({
  name: 'entropy',
  summary: 'commit the k masked tokens with the lowest predictive entropy',
  paper: 'Ye et al. 2025, Dream 7B (arXiv:2508.15487), entropy',
  params: { ...TOKENS_PER_STEP_PARAM, ...ALG_TEMP_PARAM },
  create: ({ k, alg_temp }) => ({
    decide: (row, pred, services) => commitScored(row, stepCount(row, k), (pos) => negEntropy(pred, pos), alg_temp, services.rng),
  }),
});
