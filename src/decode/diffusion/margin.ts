/**
 * Margin ranking — Dream's `topk_margin` (Ye et al., 2025, "Dream 7B"; Kim et al., 2025,
 * "Train for the Worst, Plan for the Best"): commit the masked positions with the largest gap
 * between the top-1 and top-2 probabilities.
 *
 * Follows Dream's `generation_utils.py`: `sample_tokens(..., margin_confidence=True)` takes the
 * gap on softmax(logits / temperature) at temperature > 0 (the distribution the token is sampled
 * from), on the plain softmax at temperature 0; `_sample` commits the k best gaps, or with
 * `alg_temp` > 0 draws the k positions from softmax(gap / alg_temp) (ranking.ts `commitScored`,
 * with the loop's rng). Dream's top_p / top_k filtering of the logits has no paradec counterpart.
 */
import { ALG_TEMP_PARAM, commitScored, scaledProbs, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy, type Predictions } from './types.js';

/** top-1 minus top-2 probability of `pos` (temperature-scaled at T > 0). */
function gap(pred: Predictions, pos: number): number {
  const probs = scaledProbs(pred, pos);
  if (!probs) {
    const p = pred.topkProbs(pos);
    return p[0]! - (p.length > 1 ? p[1]! : 0);
  }
  let first = 0;
  let second = 0;
  for (const q of probs) {
    if (q > first) {
      second = first;
      first = q;
    } else if (q > second) second = q;
  }
  return first - second;
}

export const margin = defineDiffusionStrategy({
  name: 'margin',
  summary: 'commit the k masked tokens with the largest top-1 minus top-2 probability',
  paper: 'Ye et al. 2025, Dream 7B (arXiv:2508.15487), topk_margin',
  params: { ...TOKENS_PER_STEP_PARAM, ...ALG_TEMP_PARAM },
  create: ({ k, alg_temp }) => ({
    decide: (row, pred, services) => commitScored(row, stepCount(row, k), (pos) => gap(pred, pos), alg_temp, services.rng),
  }),
});
