/**
 * The fixed-count family shared by LLaDA-style remasking rules: score every masked position of
 * the current block, commit the `count` best. The rules differ only in the score.
 */
import { paramSpecs } from '../params.js';
import type { Decision, RowView } from './types.js';

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
