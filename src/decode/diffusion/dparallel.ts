/**
 * dParallel's entropy-threshold decoding ("dParallel: Learnable Parallel Decoding for dLLMs",
 * 2025; czg1225/dParallel `get_transfer_index_entropy`): commit every masked position of the
 * block whose predictive entropy is below the bound (0.5 nats), and always the lowest-entropy one.
 * (dParallel's certainty-forcing distillation is training, not part of this decoder.)
 */
import type { DiffusionStrategyDefinition } from './types.js';

export const dparallel: DiffusionStrategyDefinition = {
  name: 'dparallel',
  family: 'diffusion',
  summary: 'commit all masked tokens with entropy below 0.5 nats, at least the lowest (dParallel)',
  paper: 'dParallel: Learnable Parallel Decoding for dLLMs, 2025',
  params: { threshold: { type: 'number', default: 0.5, min: 0, description: 'entropy bound (nats)' } },
  create: (params) => {
    const bound = params.threshold as number;
    return {
      name: 'dparallel',
      decide: (row, pred) => {
        let best = row.candidates[0]!;
        const commit: number[] = [];
        for (const pos of row.candidates) {
          if (pred.entropy(pos) < pred.entropy(best)) best = pos;
          if (pred.entropy(pos) < bound) commit.push(pos);
        }
        if (!commit.includes(best)) commit.push(best);
        return { commit };
      },
    };
  },
};
