/**
 * Prophet — early-commit decoding (Li et al., 2025, "Diffusion Language Models Know the Answer
 * Before Decoding", arXiv:2508.19982). Reference: pixeli99/Prophet, `generate_earlyexit.py`,
 * `generate()` and `should_early_exit()`.
 *
 * The base decoder is LLaDA's confidence top-k schedule. Each step, before committing, Prophet
 * averages the gap between the top-1 and top-2 *raw logits* over a fixed answer slot of
 * `answer_length` = 5 positions (whether still masked or already decoded); when the mean reaches
 * the progress-dependent threshold — 7.5 while step / steps < 0.33, 5.0 below 0.67, 2.5 after,
 * where step counts from 1 and steps is the whole schedule's step count — every remaining mask,
 * in every block, is filled with its current prediction at once and decoding stops.
 *
 * The thresholds 7.5 / 5.0 / 2.5 are raw-logit gaps (nats) that the paper calibrated on
 * LLaDA-8B-Instruct (GSM8K etc.); a smaller or differently trained model has a different logit
 * scale, so they are not expected to transfer.
 *
 * Where paradec follows the reference exactly: the slot's positions are fixed (decoded positions
 * count with their current prediction), the mean is over those positions only (later positions,
 * such as end-of-text padding, never enter it), progress = step / steps, and the thresholds and
 * comparison (≥) are the reference's. The gap is read from the decode head as ln p1 − ln p2 of the
 * temperature-1 softmax over the whole vocabulary, which equals the raw logit gap l1 − l2 (up to
 * float32 rounding; a gap over ~69 nats is clipped there, far above any threshold).
 *
 * Documented difference: the reference pins its answer slot with forced text
 * (`constraints_text="200:The|201:answer|202:is"`, slot = 2 positions after the last forced
 * token). paradec cannot force text and its task prompts ask for the answer directly, so the slot
 * is the first `answer_length` positions of the generation region.
 */
import { commitTopScored, stepCount, TOKENS_PER_STEP_PARAM } from './ranking.js';
import type { Predictions, RowView } from './types.js';
import { defineDiffusionStrategy } from './types.js';

/** The reference's `should_early_exit` threshold for a progress in [0, 1]. */
export function prophetThreshold(progress: number, high: number, mid: number, low: number): number {
  return progress < 0.33 ? high : progress < 0.67 ? mid : low;
}

/** Mean top-1 − top-2 raw-logit gap over the first `answerLength` generation positions. */
export function answerGap(row: RowView, pred: Predictions, answerLength: number): number {
  const end = row.promptLength + Math.min(answerLength, row.genLength);
  let gap = 0;
  for (let pos = row.promptLength; pos < end; pos++) {
    const p = pred.topkProbs(pos);
    gap += Math.log(Math.max(p[0] ?? 0, 1e-30)) - Math.log(Math.max(p[1] ?? 0, 1e-30));
  }
  return gap / Math.max(1, end - row.promptLength);
}

export const prophet = defineDiffusionStrategy({
  name: 'prophet',
  summary: 'confidence top-k, but fill every mask at once when the answer slot\'s top-2 logit gap passes 7.5/5.0/2.5',
  paper: 'Li et al. 2025, Diffusion Language Models Know the Answer Before Decoding (arXiv:2508.19982)',
  params: {
    ...TOKENS_PER_STEP_PARAM,
    gap_high: { type: 'number', default: 7.5, description: 'raw-logit gap threshold for progress < 33% (calibrated on LLaDA-8B)' },
    gap_mid: { type: 'number', default: 5.0, description: 'raw-logit gap threshold for progress < 67% (calibrated on LLaDA-8B)' },
    gap_low: { type: 'number', default: 2.5, description: 'raw-logit gap threshold afterwards (calibrated on LLaDA-8B)' },
    answer_length: { type: 'int', default: 5, min: 1, description: 'the answer slot: average the gap over the first N generation positions, masked or decoded' },
    total_steps: { type: 'int', default: null, min: 1, description: 'steps that define progress (unset: the schedule\'s steps)' },
  },
  create: ({ k, gap_high: gapHigh, gap_mid: gapMid, gap_low: gapLow, answer_length: answerLength, total_steps: totalSteps }) => ({
    decide: (row, pred) => {
      const progress = row.step / (totalSteps ?? row.totalSteps);
      if (answerGap(row, pred, answerLength) >= prophetThreshold(progress, gapHigh, gapMid, gapLow)) return { commit: [...row.masked] };
      return commitTopScored(row, stepCount(row, k), (pos) => pred.confidence[pos]!);
    },
  }),
});
