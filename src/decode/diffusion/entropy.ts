/**
 * Entropy ranking — Dream's `entropy` algorithm (Ye et al., 2025, "Dream 7B"): commit the masked
 * positions whose predictive distribution has the lowest entropy.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import type { DiffusionStrategyDefinition } from './types.js';

export const entropy: DiffusionStrategyDefinition = {
  name: 'entropy',
  family: 'diffusion',
  summary: 'commit the k masked tokens with the lowest predictive entropy',
  paper: 'Ye et al. 2025, Dream 7B (arXiv:2508.15487), entropy',
  params: TOKENS_PER_STEP_PARAM,
  create: (params) => ({
    name: 'entropy',
    decide: (row, pred) => commitTopScored(row, stepCount(row, params.k as number | null), (pos) => -pred.entropy(pos)),
  }),
};
