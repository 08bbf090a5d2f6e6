/**
 * Left to right — the autoregressive order imposed on a diffusion model: commit the leftmost k
 * masked positions each step. The reference point for "how much does any-order decoding buy"
 * (ParallelBench, Kang et al., 2025).
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export const leftToRight = defineDiffusionStrategy({
  name: 'left-to-right',
  summary: 'commit the leftmost k masked tokens per step',
  paper: 'Kang et al. 2025, ParallelBench (arXiv:2510.04767)',
  params: TOKENS_PER_STEP_PARAM,
  create: ({ k }) => ({
    decide: (row) => commitTopScored(row, stepCount(row, k), (pos) => -pos),
  }),
});
