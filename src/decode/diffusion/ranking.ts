/**
 * The fixed-count family shared by LLaDA-style remasking rules: score every masked position of
 * the current block, commit the `count` best. The rules differ only in the score.
 */
import { paramSpecs } from '../params.js';
import { softmaxRow } from '../head.js';
import { drawCategorical } from '../autoregressive/sampling.js';
import type { Decision, Predictions, RandomSource, RowView } from './types.js';

/** The `k` parameter of the fixed-count rules. */
export const TOKENS_PER_STEP_PARAM = paramSpecs({
  k: {
    type: 'int',
    default: null,
    min: 1,
    description: 'tokens committed per step; unset = the base schedule (steps / block_length)',
  },
});

/** How many tokens a fixed-count rule commits this step. */
export function stepCount(row: RowView, k: number | null): number {
  return Math.min(row.candidates.length, k ?? row.quota);
}

/** Commit the `count` candidates with the highest score (ties: leftmost first, deterministic). */
export function commitTopScored(row: RowView, count: number, score: (pos: number) => number): Decision {
  const ranked = [...row.candidates].sort((a, b) => score(b) - score(a) || a - b);
  return { commit: ranked.slice(0, Math.max(0, count)) };
}

/** Dream's `alg_temp` (the positions' sampling temperature), shared by `margin` and `entropy`. */
export const ALG_TEMP_PARAM = paramSpecs({
  alg_temp: {
    type: 'number',
    default: null,
    min: 0,
    description:
      "Dream's alg_temp: unset or 0 = commit the k best scores; > 0 = sample the k positions without replacement from softmax(score / alg_temp)",
  },
});

/**
 * The distribution Dream ranks by (`sample_tokens`): softmax(logits / T) over the whole vocabulary
 * at temperature T > 0; null at T = 0 (or when the head carries no logits), where the decode
 * head's temperature-1 top-k and entropy are the same thing.
 */
export function scaledProbs(pred: Predictions, pos: number): Float64Array | null {
  const t = pred.temperature ?? 0;
  if (!(t > 0) || !pred.head.logits) return null;
  return softmaxRow(pred.logits(pos), 0, pred.head.vocabSize, t);
}

/**
 * Dream's `_sample` position choice: with `algTemp` unset or 0, the `count` best scores
 * (`commitTopScored`); with `algTemp` > 0, `count` positions drawn without replacement with
 * probability proportional to exp(score / algTemp) (torch.multinomial over softmax(conf / alg_temp)).
 */
export function commitScored(
  row: RowView,
  count: number,
  score: (pos: number) => number,
  algTemp: number | null,
  rng: RandomSource,
): Decision {
  if (algTemp === null || !(algTemp > 0)) return commitTopScored(row, count, score);
  const pool = [...row.candidates];
  const scores = pool.map(score);
  const max = Math.max(...scores);
  const weights = scores.map((s) => Math.exp((s - max) / algTemp));
  const commit: number[] = [];
  for (let n = Math.min(count, pool.length); n > 0; n--) {
    let total = 0;
    for (const w of weights) total += w;
    const pick = drawCategorical(Float64Array.from(weights, (w) => w / total), rng);
    commit.push(pool[pick]!);
    pool.splice(pick, 1);
    weights.splice(pick, 1);
  }
  return { commit };
}
