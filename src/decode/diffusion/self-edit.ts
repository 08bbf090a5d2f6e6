/**
 * Self-edit — the AutoEdit idea of ReflectDrive-2 ("ReflectDrive-2: Reinforcement-Learning-Aligned
 * Self-Editing for Discrete Diffusion Driving", 2026): once a draft is complete, the same masked
 * diffusion model rewrites selected tokens in place. Training-free version for language:
 *
 *   draft:   decode with the base rule (`base`: Fast-dLLM threshold τ = 0.9, at least one per step;
 *            or `confidence`, the base schedule's top-k) until the canvas is full;
 *   reflect: score every committed token of the text (up to and including its first end-of-text;
 *            the tail after it is not text) by the probability the model gives it under the full
 *            context; remask those below `edit_threshold`, and decode them again with the base rule;
 *   repeat reflect at most `rounds` times (default 2), then stop even if tokens stay below it.
 *
 * Scoring (`score`):
 *   - `masked` (default): leave-one-out — for each scored position, the canvas with only that
 *     position masked, all of them in ONE batched forward (`services.forwardCandidates`, one NFE).
 *     This is the right question for a model trained like LLaDA (loss on masked positions only), whose
 *     predictions at unmasked positions are untrained.
 *   - `self`: read the loop's review forward at the committed position itself — cheaper (no extra
 *     forward), meaningful only for models trained to edit (ReflectDrive-2, LLaDA 2.1's
 *     token-to-token editing).
 * A token outside the head's top-k gets score 0.
 *
 * edit_threshold = 0.5: a committed token the model now gives less than even odds is more likely
 * to be replaced than kept under its own, now complete, context; it is also the mask-to-token
 * threshold of LLaDA 2.1's joint decoding (SGLang `JointThreshold`). Not from ReflectDrive-2,
 * whose edit selection is learned (RL-trained), which this training-free version cannot reproduce.
 *
 * Cost: each review costs the loop's forward on the full canvas, plus one batched forward with
 * `score=masked`; a review that remasks nothing ends the row.
 */
import { confidence } from './confidence.js';
import { headRow } from './helpers.js';
import { settledPrefix } from './settled.js';
import { threshold } from './threshold.js';
import { defineDiffusionStrategy, type Predictions } from './types.js';

/** Probability of `token` in a top-k list (0 when it is not there). */
function probOf(ids: Int32Array, probs: Float32Array, token: number): number {
  for (let j = 0; j < ids.length; j++) if (ids[j] === token) return probs[j]!;
  return 0;
}

export const selfEdit = defineDiffusionStrategy({
  name: 'self-edit',
  summary: 'decode, then remask committed tokens scoring < 0.5 under the full context and redecode (≤ 2 rounds)',
  paper: 'ReflectDrive-2: RL-Aligned Self-Editing for Discrete Diffusion Driving (AutoEdit), 2026 — training-free variant',
  params: {
    base: { type: 'string', default: 'threshold', choices: ['threshold', 'confidence'], description: 'drafting rule' },
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'threshold of the base rule (base=threshold)' },
    k: { type: 'int', default: null, min: 1, description: 'tokens per step of the base rule (base=confidence; unset: the schedule)' },
    edit_threshold: { type: 'number', default: 0.5, min: 0, max: 1, description: 'remask committed tokens scoring below this' },
    rounds: { type: 'int', default: 2, min: 0, description: 'at most this many remask rounds' },
    score: { type: 'string', default: 'masked', choices: ['masked', 'self'], description: 'leave-one-out (masked) or at-position (self) scoring' },
  },
  create: ({ base: baseRule, tau, k, edit_threshold: editThreshold, rounds: maxRounds, score }) => {
    const base = baseRule === 'confidence' ? confidence.create({ k }) : threshold.create({ tau });
    const rounds = new Map<number, number>();
    return {
      begin: (row) => rounds.set(row.row, 0),
      decide: (row, pred, services) => base.decide(row, pred, services),
      review: async (row, pred: Predictions, services) => {
        const done = rounds.get(row.row) ?? 0;
        if (done >= maxRounds) return [];
        // the canvas is full: its settled prefix is the whole text, which ends at its first end-of-text
        const text = settledPrefix(row.canvas, row.promptLength, row.maskTokenId, row.eosTokenIds);
        const end = text.endsWithEos ? text.end + 1 : text.end;
        const positions: number[] = [];
        for (let pos = row.promptLength; pos < end; pos++) positions.push(pos);
        if (positions.length === 0) return [];
        let scores: number[];
        if (score === 'self') {
          scores = positions.map((pos) => probOf(pred.topkIds(pos), pred.topkProbs(pos), row.canvas[pos]!));
        } else {
          const canvases = positions.map((pos) => {
            const c = row.canvas.slice();
            c[pos] = row.maskTokenId;
            return c;
          });
          const head = await services.forwardCandidates(row, canvases);
          scores = positions.map((pos, b) => {
            const h = headRow(head, b);
            return probOf(h.topkIds(pos), h.topkProbs(pos), row.canvas[pos]!);
          });
        }
        const remask = positions.filter((_, j) => scores[j]! < editThreshold);
        if (remask.length > 0) rounds.set(row.row, done + 1);
        return remask;
      },
    };
  },
});
