/**
 * Prophet — early-commit decoding (Li et al., 2025, "Diffusion Language Models Know the Answer
 * Before Decoding", arXiv:2508.19982, pixeli99/Prophet `generate_earlyexit.py`).
 *
 * The base decoder is LLaDA's confidence top-k schedule. Each step, before committing, Prophet
 * measures the mean gap between the top-1 and top-2 logits over the answer positions; when it
 * reaches the progress-dependent threshold (7.5 before 33% of the steps, 5.0 before 67%, 2.5
 * after) every remaining mask — in every block — is filled with its current prediction at once.
 *
 * The answer positions: Prophet pins an answer slot with forced text ("The answer is"); paradec's
 * prompts have no such slot, so the gap is averaged over the masked positions of the generation
 * region (`answer_length` limits it to the first N of them). The logit gap is read from the
 * decode head as ln p1 − ln p2, which equals the raw logit gap.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

export function prophetThreshold(progress: number, high: number, mid: number, low: number): number {
  return progress < 0.33 ? high : progress < 0.67 ? mid : low;
}

export const prophet = defineDiffusionStrategy({
  name: 'prophet',
  summary: 'confidence top-k, but fill every mask at once when the top-2 logit gap passes 7.5/5.0/2.5',
  paper: 'Li et al. 2025, Diffusion Language Models Know the Answer Before Decoding (arXiv:2508.19982)',
  params: {
    ...TOKENS_PER_STEP_PARAM,
    gap_high: { type: 'number', default: 7.5, description: 'gap threshold for progress < 33%' },
    gap_mid: { type: 'number', default: 5.0, description: 'gap threshold for progress < 67%' },
    gap_low: { type: 'number', default: 2.5, description: 'gap threshold afterwards' },
    answer_length: { type: 'int', default: null, min: 1, description: 'average the gap over the first N masked positions (unset: all)' },
    total_steps: { type: 'int', default: null, min: 1, description: 'steps that define progress (unset: the number of masked positions at the start)' },
  },
  create: ({ k, gap_high: gapHigh, gap_mid: gapMid, gap_low: gapLow, answer_length: answerLength, total_steps: totalSteps }) => {
    const totals = new Map<number, number>();
    return {
      begin: (row) => totals.set(row.row, totalSteps ?? row.masked.length),
      decide: (row, pred) => {
        const positions = answerLength ? row.masked.slice(0, answerLength) : row.masked;
        let gap = 0;
        for (const pos of positions) {
          const p = pred.topkProbs(pos);
          gap += Math.log(Math.max(p[0]!, 1e-30)) - Math.log(Math.max(p[1] ?? 0, 1e-30));
        }
        gap /= Math.max(1, positions.length);
        const progress = (row.step - 1) / totals.get(row.row)!;
        const thr = prophetThreshold(progress, gapHigh, gapMid, gapLow);
        if (gap >= thr) return { commit: [...row.masked] };
        return commitTopScored(row, stepCount(row, k), (pos) => pred.confidence[pos]!);
      },
    };
  },
});
