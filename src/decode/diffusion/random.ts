/**
 * Random order — LLaDA's `random` remasking (Nie et al., 2025, ML-GSAI/LLaDA generate.py): the
 * positions to commit are chosen uniformly at random among the block's masks (confidence = U(0,1)).
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export const random = defineDiffusionStrategy({
  name: 'random',
  summary: 'commit k uniformly random masked tokens per step (LLaDA random remasking)',
  paper: 'Nie et al. 2025, Large Language Diffusion Models (arXiv:2502.09992)',
  params: TOKENS_PER_STEP_PARAM,
  create: ({ k }) => ({
    decide: (row, _pred, services) => {
      const draw = new Map(row.candidates.map((pos) => [pos, services.rng.float()]));
      return commitTopScored(row, stepCount(row, k), (pos) => draw.get(pos)!);
    },
  }),
});
