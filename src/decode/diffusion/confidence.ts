/**
 * Confidence ranking — LLaDA's `low_confidence` remasking (Nie et al., 2025, "Large Language
 * Diffusion Models", ML-GSAI/LLaDA generate.py): each step commits the masked positions of the
 * current block whose predicted token has the highest softmax probability. With `k = 1` this is
 * the one-token-per-step baseline every parallel strategy is measured against.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export const confidence = defineDiffusionStrategy({
  name: 'confidence',
  summary: 'commit the k most confident masked tokens per step (LLaDA low_confidence remasking)',
  paper: 'Nie et al. 2025, Large Language Diffusion Models (arXiv:2502.09992)',
  params: TOKENS_PER_STEP_PARAM,
  create: ({ k }) => ({
    decide: (row, pred) => commitTopScored(row, stepCount(row, k), (pos) => pred.confidence[pos]!),
  }),
});
