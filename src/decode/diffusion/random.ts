/**
 * Random order — LLaDA's `random` remasking (Nie et al., 2025, ML-GSAI/LLaDA generate.py): the
 * positions to commit are chosen uniformly at random among the block's masks (confidence = U(0,1)).
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import type { DiffusionStrategyDefinition } from './types.js';

export const random: DiffusionStrategyDefinition = {
  name: 'random',
  family: 'diffusion',
  summary: 'commit k uniformly random masked tokens per step (LLaDA random remasking)',
  paper: 'Nie et al. 2025, Large Language Diffusion Models (arXiv:2502.09992)',
  params: TOKENS_PER_STEP_PARAM,
  create: (params) => ({
    name: 'random',
    decide: (row, _pred, services) => {
      const draw = new Map(row.candidates.map((pos) => [pos, services.rng.float()]));
      return commitTopScored(row, stepCount(row, params.k as number | null), (pos) => draw.get(pos)!);
    },
  }),
};
