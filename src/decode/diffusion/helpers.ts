/**
 * Small pieces shared by the strategies that look past one step's predictions (FreeDave, ETE,
 * self-edit, oracle, Learn2PD): reading one row of a decode-head output produced by
 * `services.forwardCandidates`, the one-token-per-step ranking, the Fast-dLLM threshold rule and
 * token-id list parameters. (Whether the text is settled: settled.ts.)
 */
import type { DecodeHeadOutput } from '../../runtime/types.js';
import { OptionError } from '../../errors.js';
import type { Predictions } from './types.js';

/** Argmax token, its probability and the entropy of row `b` of a head output, per position. */
export interface HeadRow {
  token(pos: number): number;
  confidence(pos: number): number;
  entropy(pos: number): number;
  topkIds(pos: number): Int32Array;
  topkProbs(pos: number): Float32Array;
}

export function headRow(head: DecodeHeadOutput, b: number): HeadRow {
  const k = head.k;
  const base = b * head.length;
  return {
    token: (pos) => head.topkIds[(base + pos) * k]!,
    confidence: (pos) => head.topkProbs[(base + pos) * k]!,
    entropy: (pos) => head.entropy[base + pos]!,
    topkIds: (pos) => head.topkIds.subarray((base + pos) * k, (base + pos + 1) * k),
    topkProbs: (pos) => head.topkProbs.subarray((base + pos) * k, (base + pos + 1) * k),
  };
}

/**
 * Where a position's best real token sits in its top-k (the k ids at `offset`): the mask token is
 * never a prediction, so it is the runner-up when the mask comes first and the head keeps more
 * than one. A documented difference from LLaDA's `generate.py`, whose argmax may pick the mask
 * (the position then simply stays masked, and a block can end with masks): paradec's loop decodes
 * until the canvas is full, and a committed mask would be a step that commits nothing, repeated
 * up to the step bound — an undertrained model may rank the mask first everywhere
 * (docs/strategies.md, "The denoising loop").
 */
export function realTokenRank(topkIds: Int32Array, offset: number, k: number, mask: number): 0 | 1 {
  return k > 1 && topkIds[offset] === mask ? 1 : 0;
}

/**
 * Row `b` of a head output read as the loop reads its own forward at temperature 0
 * (predictions.ts `predictionsFor`): each position's best real token and its probability, never
 * the mask token (FreeDave's verification forwards: a draft then always fills a masked position
 * with a real token, and a target is exactly the baseline's next commit from that draft).
 */
export function realTokenRow(head: DecodeHeadOutput, b: number, mask: number): HeadRow {
  const row = headRow(head, b);
  const base = b * head.length;
  const rank = (pos: number) => realTokenRank(head.topkIds, (base + pos) * head.k, head.k, mask);
  return { ...row, token: (pos) => row.topkIds(pos)[rank(pos)]!, confidence: (pos) => row.topkProbs(pos)[rank(pos)]! };
}

/** The loop's predictions seen through the same interface. */
export function predictionsRow(pred: Predictions): HeadRow {
  return {
    token: (pos) => pred.tokens[pos]!,
    confidence: (pos) => pred.confidence[pos]!,
    entropy: (pos) => pred.entropy(pos),
    topkIds: (pos) => pred.topkIds(pos),
    topkProbs: (pos) => pred.topkProbs(pos),
  };
}

/** Masked positions of `canvas` in [from, to), ascending. */
export function maskedIn(canvas: Int32Array, mask: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) if (canvas[i] === mask) out.push(i);
  return out;
}

/**
 * Positions ranked as the one-token-per-step `confidence` rule ranks them (ranking.ts
 * `commitTopScored`): confidence descending, ties to the leftmost.
 */
export function rankByConfidence(positions: readonly number[], confidence: (pos: number) => number): number[] {
  return [...positions].sort((a, b) => confidence(b) - confidence(a) || a - b);
}

/**
 * Fast-dLLM's rule: every candidate with confidence >= tau, and always the most confident one.
 * Commit order: the accepted candidates in candidate order, then the most confident one (ties:
 * the first) if it was not accepted.
 */
export function thresholdCommit(candidates: readonly number[], confidence: (pos: number) => number, tau: number): number[] {
  return acceptedOrBest(candidates, confidence, (pos) => confidence(pos) >= tau);
}

/**
 * The same rule with any acceptance test (LocalLeap's per-position threshold, dParallel's entropy
 * bound): every candidate `accepts`, and always the one with the highest `score`.
 */
export function acceptedOrBest(candidates: readonly number[], score: (pos: number) => number, accepts: (pos: number) => boolean): number[] {
  if (candidates.length === 0) return [];
  let best = candidates[0]!;
  const commit: number[] = [];
  for (const pos of candidates) {
    if (score(pos) > score(best)) best = pos;
    if (accepts(pos)) commit.push(pos);
  }
  if (!commit.includes(best)) commit.push(best);
  return commit;
}

/** Parse a comma-separated list of token ids (a string parameter). */
export function parseIdList(owner: string, key: string, raw: string | null | undefined): number[] {
  if (raw === null || raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((s) => {
    const v = Number(s.trim());
    if (!Number.isInteger(v) || v < 0) throw new OptionError(`${owner}: option '${key}' must be comma-separated token ids (got ${JSON.stringify(raw)})`);
    return v;
  });
}
