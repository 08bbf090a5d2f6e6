/**
 * dParallel's entropy-threshold decoding ("dParallel: Learnable Parallel Decoding for dLLMs",
 * 2025; czg1225/dParallel `get_transfer_index_entropy`): commit every masked position of the
 * block whose predictive entropy is at most the bound (0.5 nats; the reference drops a position only
 * when its entropy is > the bound), and always the lowest-entropy one.
 * (dParallel's certainty-forcing distillation is training, not part of this decoder.)
 */
import { acceptedOrBest } from './helpers.js';
import { defineDiffusionStrategy } from './types.js';

export const dparallel = defineDiffusionStrategy({
  name: 'dparallel',
  summary: 'commit all masked tokens with entropy ≤ 0.5 nats, at least the lowest (dParallel)',
  paper: 'dParallel: Learnable Parallel Decoding for dLLMs, 2025',
  params: { threshold: { type: 'number', default: 0.5, min: 0, description: 'entropy bound (nats)' } },
  create: ({ threshold: bound }) => ({
    // the lowest entropy is the best: score by −entropy (negation is exact, so ties stay ties)
    decide: (row, pred) => ({ commit: acceptedOrBest(row.candidates, (pos) => -pred.entropy(pos), (pos) => pred.entropy(pos) <= bound) }),
  }),
});
