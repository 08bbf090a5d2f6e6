/**
 * Confidence threshold — Fast-dLLM (Wu et al., 2025, "Fast-dLLM: Training-free Acceleration of
 * Diffusion LLM by Enabling KV Cache and Parallel Decoding", NVlabs/Fast-dLLM
 * `get_transfer_index`): commit every masked position of the block whose confidence is at least
 * τ, and always the most confident one, so each step makes progress. τ = 0.9 (the paper's
 * default). The base schedule's quota is ignored: the block loops until it is full.
 */
import { thresholdCommit } from './helpers.js';
import { defineDiffusionStrategy } from './types.js';

export const threshold = defineDiffusionStrategy({
  name: 'threshold',
  summary: 'commit all masked tokens with confidence >= tau, at least the top-1 (Fast-dLLM)',
  paper: 'Wu et al. 2025, Fast-dLLM (arXiv:2505.22618), confidence-aware parallel decoding',
  params: { tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'confidence threshold' } },
  create: ({ tau }) => ({
    decide: (row, pred) => ({ commit: thresholdCommit(row.candidates, (pos) => pred.confidence[pos]!, tau) }),
  }),
});
