/**
 * EOSER + ASS ("Taming Masked Diffusion Language Models via Consistency Trajectory Reinforcement
 * Learning with Fewer Decoding Step", 2025; yjyddq/EOSER-ASS-RL `eval/generate.py`).
 *
 * - Ascending Step-Size (`get_num_transfer_tokens_ass`, single block): a block of L tokens takes
 *   S = ⌊log2 L⌋ steps; step i < S − 1 commits 2^i tokens and the last step commits the
 *   remainder L − (2^(S−1) − 1). So 32 → 1, 2, 4, 8, 17 and 8 → 1, 2, 5 (see `assStepSizes`).
 *   paradec's last step commits every masked position left in the block, which is that remainder
 *   when the earlier steps committed exactly their share.
 * - EOS Early Rejection (`ass_sampling`): the confidence of positions predicting end-of-text is
 *   multiplied by γ = `eos_min_gamma` + (1 − `eos_min_gamma`) · (2^(i+1) − 1) / 2^S, with S the
 *   number of steps above (the reference's `steps`, = ⌊log2 gen_length⌋ in its examples).
 *
 * Documented differences:
 * - `base` generalises the doubling (base^i tokens at step i, S = the largest s with base^s ≤ L);
 *   the reference has only base 2, the default.
 * - Multi-block layout: the reference's `eoser_ass_generate(block_num > 1)` does not restart the
 *   schedule per block. With S = ⌊log2 gen_length⌋ it gives the last block 2^(S−1) + 1 + (gen_length
 *   − 2^S) tokens decoded in one step, each block before it (from the right) 2^(S−2), 2^(S−3), …
 *   tokens in one step each, and the first block the rest, decoded with steps 0..k (e.g. 128
 *   tokens, 4 blocks: 15 tokens in 1, 2, 4, 8 | 16 | 32 | 65); γ there uses the global step
 *   index. paradec's loop owns the block layout (equal `block_length` blocks), so here every
 *   block restarts the ascending schedule at step 0 and γ uses the step within the block. With
 *   one block over the canvas (block_length = gen_length, the reference's `block_num=1`) the two
 *   agree exactly.
 */
import { defineDiffusionStrategy } from './types.js';

/** S: the number of ascending steps for a block of `blockLength` tokens (the largest s with base^s ≤ L, at least 1). */
export function assStepCount(blockLength: number, base = 2): number {
  if (base <= 1) return Math.max(1, blockLength);
  let s = 0;
  let power = 1;
  while (power * base <= blockLength) {
    power *= base;
    s += 1;
  }
  return Math.max(1, s);
}

/** Tokens committed at each step of a block of `blockLength` tokens: base^i, the last step takes the remainder. */
export function assStepSizes(blockLength: number, base = 2): number[] {
  const steps = assStepCount(blockLength, base);
  const sizes: number[] = [];
  let left = blockLength;
  for (let i = 0; i < steps && left > 0; i++) {
    const size = i === steps - 1 ? left : Math.min(left, Math.max(1, Math.floor(base ** i)));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

export function eoserGamma(stepInBlock: number, blockLength: number, minGamma: number, base = 2): number {
  const S = assStepCount(blockLength, base);
  const t = Math.min(1, (2 ** (stepInBlock + 1) - 1) / 2 ** S);
  return minGamma + (1 - minGamma) * t;
}

export const eoserAss = defineDiffusionStrategy({
  name: 'eoser-ass',
  summary: '2^i tokens at step i, the last of ⌊log2 L⌋ steps takes the rest; end-of-text confidence damped early (EOSER + ASS)',
  paper: 'Taming Masked Diffusion Language Models via Consistency Trajectory RL with Fewer Decoding Step, 2025',
  params: {
    eos_min_gamma: { type: 'number', default: 0.01, min: 0, max: 1, description: 'EOS confidence factor at the first step' },
    base: { type: 'number', default: 2, min: 1, description: 'step size grows as base^i' },
  },
  create: ({ eos_min_gamma: minGamma, base }) => ({
    decide: (row, pred) => {
      const blockLength = row.blockEnd - row.blockStart;
      const gamma = eoserGamma(row.stepInBlock, blockLength, minGamma, base);
      const score = (pos: number) => pred.confidence[pos]! * (row.eosTokenIds.includes(pred.tokens[pos]!) ? gamma : 1);
      const last = row.stepInBlock >= assStepCount(blockLength, base) - 1;
      const count = last
        ? row.candidates.length
        : Math.min(row.candidates.length, Math.max(1, Math.floor(base ** row.stepInBlock)));
      const ranked = [...row.candidates].sort((a, b) => score(b) - score(a) || a - b);
      return { commit: ranked.slice(0, count) };
    },
  }),
});
