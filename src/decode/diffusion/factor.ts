/**
 * Factor rule — Fast-dLLM (Wu et al., 2025, arXiv:2505.22618, `get_transfer_index_dynamic`):
 * sort the block's masked confidences c(1) ≥ c(2) ≥ …, commit the largest prefix n with
 * (i+1)(1 − c(i)) ≤ f for every i ≤ n, and at least one token. f = 1, the setting of the paper's
 * theorem (greedy parallel decoding agrees with greedy joint decoding when (n+1)ε ≤ 1).
 *
 * The reference code's quirk (when only the last candidate fails it still commits all) is not
 * reproduced: this file follows the paper's rule.
 */
import { defineDiffusionStrategy } from './types.js';

export const factor = defineDiffusionStrategy({
  name: 'factor',
  summary: 'commit the largest n most-confident tokens with (n+1)(1-c_n) <= f (Fast-dLLM factor rule)',
  paper: 'Wu et al. 2025, Fast-dLLM (arXiv:2505.22618), factor-based parallel decoding',
  params: { f: { type: 'number', default: 1, min: 0, description: 'the factor f' } },
  create: ({ f }) => ({
    decide: (row, pred) => {
      const ranked = [...row.candidates].sort((a, b) => pred.confidence[b]! - pred.confidence[a]! || a - b);
      let n = 1;
      while (n < ranked.length && (n + 2) * (1 - pred.confidence[ranked[n]!]!) <= f) n++;
      return { commit: ranked.slice(0, n) };
    },
  }),
});
