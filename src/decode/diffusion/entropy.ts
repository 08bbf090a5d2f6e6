/**
 * Entropy ranking — Dream's `entropy` algorithm (Ye et al., 2025, "Dream 7B"): commit the masked
 * positions whose predictive distribution has the lowest entropy.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export const entropy = defineDiffusionStrategy({
  name: 'entropy',
  summary: 'commit the k masked tokens with the lowest predictive entropy',
  paper: 'Ye et al. 2025, Dream 7B (arXiv:2508.15487), entropy',
  params: TOKENS_PER_STEP_PARAM,
  create: ({ k }) => ({
    decide: (row, pred) => commitTopScored(row, stepCount(row, k), (pos) => -pred.entropy(pos)),
  }),
});
