/**
 * Margin ranking — Dream's `topk_margin` (Ye et al., 2025, "Dream 7B"; Kim et al., 2025,
 * "Train for the Worst, Plan for the Best"): commit the masked positions with the largest gap
 * between the top-1 and top-2 probabilities.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export const margin = defineDiffusionStrategy({
  name: 'margin',
  summary: 'commit the k masked tokens with the largest top-1 minus top-2 probability',
  paper: 'Ye et al. 2025, Dream 7B (arXiv:2508.15487), topk_margin',
  params: TOKENS_PER_STEP_PARAM,
  create: ({ k }) => ({
    decide: (row, pred) =>
      commitTopScored(row, stepCount(row, k), (pos) => {
        const p = pred.topkProbs(pos);
        return p[0]! - (p.length > 1 ? p[1]! : 0);
      }),
  }),
});
