/**
 * EOSER + ASS ("Taming Masked Diffusion Language Models via Consistency Trajectory Reinforcement
 * Learning with Fewer Decoding Step", 2025; yjyddq/EOSER-ASS-RL `eval/generate.py`).
 *
 * - Ascending Step-Size: step i of a block commits 2^i tokens (1, 2, 4, …), so a block of L
 *   tokens takes about log2 L steps.
 * - EOS Early Rejection: the confidence of positions predicting end-of-text is multiplied by
 *   γ_t, rising linearly from `eos_min_gamma` (0.01 under ASS) to 1 as decoding progresses, with
 *   progress t = (2^(i+1) − 1) / 2^T (T = log2 of the block length) — so end-of-text is committed
 *   late instead of flooding the canvas early.
 */
import { defineDiffusionStrategy } from './types.js';

export function eoserGamma(stepInBlock: number, blockLength: number, minGamma: number): number {
  const T = Math.max(1, Math.ceil(Math.log2(blockLength)));
  const t = Math.min(1, (2 ** (stepInBlock + 1) - 1) / 2 ** T);
  return minGamma + (1 - minGamma) * t;
}

export const eoserAss = defineDiffusionStrategy({
  name: 'eoser-ass',
  summary: '2^i tokens at step i; end-of-text confidence damped early (EOSER + ASS)',
  paper: 'Taming Masked Diffusion Language Models via Consistency Trajectory RL with Fewer Decoding Step, 2025',
  params: {
    eos_min_gamma: { type: 'number', default: 0.01, min: 0, max: 1, description: 'EOS confidence factor at the first step' },
    base: { type: 'number', default: 2, min: 1, description: 'step size grows as base^i' },
  },
  create: ({ eos_min_gamma: minGamma, base }) => ({
    decide: (row, pred) => {
      const gamma = eoserGamma(row.stepInBlock, row.blockEnd - row.blockStart, minGamma);
      const score = (pos: number) => pred.confidence[pos]! * (row.eosTokenIds.includes(pred.tokens[pos]!) ? gamma : 1);
      const count = Math.min(row.candidates.length, Math.max(1, Math.floor(base ** row.stepInBlock)));
      const ranked = [...row.candidates].sort((a, b) => score(b) - score(a) || a - b);
      return { commit: ranked.slice(0, count) };
    },
  }),
});
