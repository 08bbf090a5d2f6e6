/**
 * Confidence ranking — LLaDA's `low_confidence` remasking (Nie et al., 2025, "Large Language
 * Diffusion Models", ML-GSAI/LLaDA generate.py): each step commits the masked positions of the
 * current block whose predicted token has the highest softmax probability. With `k = 1` this is
 * the one-token-per-step baseline every parallel strategy is measured against.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import type { DiffusionStrategyDefinition } from './types.js';

export const confidence: DiffusionStrategyDefinition = {
  name: 'confidence',
  family: 'diffusion',
  summary: 'commit the k most confident masked tokens per step (LLaDA low_confidence remasking)',
  paper: 'Nie et al. 2025, Large Language Diffusion Models (arXiv:2502.09992)',
  params: TOKENS_PER_STEP_PARAM,
  create: (params) => ({
    name: 'confidence',
    decide: (row, pred) => commitTopScored(row, stepCount(row, params.k as number | null), (pos) => pred.confidence[pos]!),
  }),
};
