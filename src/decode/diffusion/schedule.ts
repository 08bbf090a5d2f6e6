/**
 * How many tokens the base schedules commit per step.
 *
 * LLaDA (`get_num_transfer_tokens` in ML-GSAI/LLaDA generate.py): the masks of a block are split
 * evenly over the block's steps, the first `m % S` steps taking one more.
 * Dream (`generation_utils.py`): timesteps linspace(1, eps, S+1); step i reveals
 * int(n_mask * (1 - s/t)) tokens and everything at the last step.
 */
export function lladaEvenSplit(maskCount: number, steps: number): number[] {
  const base = Math.floor(maskCount / steps);
  const extra = maskCount % steps;
  return Array.from({ length: steps }, (_, i) => base + (i < extra ? 1 : 0));
}

export const DREAM_EPS = 1e-3;

export function dreamQuota(maskCount: number, stepIndex: number, steps: number, eps = DREAM_EPS): number {
  if (stepIndex >= steps - 1) return maskCount;
  const t = 1 - ((1 - eps) * stepIndex) / steps;
  const s = 1 - ((1 - eps) * (stepIndex + 1)) / steps;
  return Math.floor(maskCount * (1 - s / t));
}
