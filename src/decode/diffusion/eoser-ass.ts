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
 * - Blocks (`blocks`, the reference's `block_num`; its evaluation script runs 1): `blocks=1` is
 *   one block over the whole canvas (with `block_length` unset), the reference's `block_num=1`.
 *   With `blocks=N > 1` the strategy lays the blocks out as `eoser_ass_generate` does, from the
 *   whole canvas's step sizes: the first block takes steps 0..S−N, and each later step is a block
 *   of its own, decoded in that one step (32 tokens, 2 blocks: 1, 2, 4, 8 | 17; 128 tokens, 4
 *   blocks: 1, 2, 4, 8 | 16 | 32 | 65); γ counts the steps over the whole canvas. The loop must then
 *   run one block (`block_length` unset), and N ≤ S, as the reference asserts.
 *
 * Differences (paradec extensions; the defaults are the reference's):
 * - `base` generalises the doubling (base^i tokens at step i, S = the largest s with base^s ≤ L);
 *   the reference has only base 2, the default.
 * - `blocks=1` with a `block_length` shorter than the canvas restarts the ascending schedule (and
 *   γ's step count) in each of the loop's equal blocks; the reference has no such mode.
 */
import { OptionError } from '../../errors.js';
import { defineDiffusionStrategy, type RowView } from './types.js';

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

/** γ at step `step` of `steps` ascending steps: eos_min_gamma + (1 − eos_min_gamma) · (2^(step+1) − 1) / 2^steps. */
export function eoserGamma(step: number, steps: number, minGamma: number): number {
  const t = Math.min(1, (2 ** (step + 1) - 1) / 2 ** steps);
  return minGamma + (1 - minGamma) * t;
}

/** One block of the reference's multi-block layout: generation offsets [start, start + length), steps [firstStep, firstStep + sizes.length). */
export interface AssBlock {
  start: number;
  length: number;
  firstStep: number;
  /** tokens committed at each of the block's steps */
  sizes: number[];
}

/**
 * `eoser_ass_generate`'s layout of `genLength` tokens in `blocks` blocks: the whole canvas's
 * ascending step sizes, the first S − blocks + 1 of them in the first block, every later step a
 * block of its own.
 */
export function assBlockLayout(genLength: number, blocks: number, base = 2): AssBlock[] {
  const sizes = assStepSizes(genLength, base);
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > sizes.length) {
    throw new OptionError(`eoser-ass: blocks must be 1..${sizes.length} for gen_length ${genLength} (the reference asserts block_num <= steps = ${sizes.length}); got ${blocks}`);
  }
  const first = sizes.length - blocks + 1;
  const layout: AssBlock[] = [{ start: 0, length: sizes.slice(0, first).reduce((a, b) => a + b, 0), firstStep: 0, sizes: sizes.slice(0, first) }];
  for (let step = first; step < sizes.length; step++) {
    const prev = layout[layout.length - 1]!;
    layout.push({ start: prev.start + prev.length, length: sizes[step]!, firstStep: step, sizes: [sizes[step]!] });
  }
  return layout;
}

/** Where the current step stands in the ascending schedule: its step index, the schedule's step count, and its token count (null: the block's last step, which commits every masked position left). */
interface AssStep {
  step: number;
  steps: number;
  count: number | null;
}

/** The step of the loop's own block (blocks=1): the schedule restarts in each block. */
function stepInOwnBlock(row: RowView, base: number): AssStep {
  const blockLength = row.blockEnd - row.blockStart;
  const steps = assStepCount(blockLength, base);
  const last = row.stepInBlock >= steps - 1;
  return { step: row.stepInBlock, steps, count: last ? null : Math.max(1, Math.floor(base ** row.stepInBlock)) };
}

export const eoserAss = defineDiffusionStrategy({
  name: 'eoser-ass',
  summary: '2^i tokens at step i, the last of ⌊log2 L⌋ steps takes the rest; end-of-text confidence damped early (EOSER + ASS)',
  paper: 'Taming Masked Diffusion Language Models via Consistency Trajectory RL with Fewer Decoding Step, 2025',
  params: {
    eos_min_gamma: { type: 'number', default: 0.01, min: 0, max: 1, description: 'EOS confidence factor at the first step' },
    base: { type: 'number', default: 2, min: 1, description: 'step size grows as base^i' },
    blocks: { type: 'int', default: 1, min: 1, description: "the reference's block_num: 1 = the loop's blocks, each with the ascending schedule; N > 1 = steps 0..S−N in the first block, then one block per step" },
  },
  create: ({ eos_min_gamma: minGamma, base, blocks }) => {
    const layouts = new Map<number, AssBlock[]>();
    const layoutOf = (genLength: number): AssBlock[] => {
      let layout = layouts.get(genLength);
      if (!layout) layouts.set(genLength, (layout = assBlockLayout(genLength, blocks, base)));
      return layout;
    };
    const blockAt = (row: RowView): AssBlock => {
      const offset = row.blockStart - row.promptLength;
      return layoutOf(row.genLength).find((b) => offset >= b.start && offset < b.start + b.length)!;
    };
    const stepOf = (row: RowView): AssStep => {
      if (blocks === 1) return stepInOwnBlock(row, base);
      const block = blockAt(row);
      const last = row.stepInBlock >= block.sizes.length - 1;
      return { step: block.firstStep + row.stepInBlock, steps: layoutOf(row.genLength).at(-1)!.firstStep + 1, count: last ? null : block.sizes[row.stepInBlock]! };
    };
    return {
      begin: (row) => {
        if (blocks === 1) return;
        if (row.blockEnd - row.blockStart < row.genLength) {
          throw new OptionError(`eoser-ass: blocks=${blocks} lays out its own blocks (the reference's block_num); leave block_length unset`);
        }
        layoutOf(row.genLength);
      },
      ...(blocks > 1 ? { chooseBlockEnd: (row: RowView) => { const b = blockAt(row); return row.promptLength + b.start + b.length; } } : {}),
      decide: (row, pred) => {
        const { step, steps, count } = stepOf(row);
        const gamma = eoserGamma(step, steps, minGamma);
        const score = (pos: number) => pred.confidence[pos]! * (row.eosTokenIds.includes(pred.tokens[pos]!) ? gamma : 1);
        const ranked = [...row.candidates].sort((a, b) => score(b) - score(a) || a - b);
        return { commit: ranked.slice(0, count === null ? ranked.length : Math.min(ranked.length, count)) };
      },
    };
  },
});
