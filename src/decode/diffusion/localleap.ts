/**
 * LocalLeap ("Accelerating Diffusion LLM Inference via Local Determinism
 * Propagation", 2025, arXiv:2510.07081): positions with confidence ≥ τ = 0.9 are anchors; masked
 * positions within radius r = 4 of an anchor are committed at the relaxed threshold 0.75 (local
 * determinism propagates), all others need τ; the most confident position is always committed.
 * Rule as in the implementation described in paradec's research notes (the official code was not
 * available).
 */
import { acceptedOrBest } from './helpers.js';
import { defineDiffusionStrategy } from './types.js';

export const localleap = defineDiffusionStrategy({
  name: 'localleap',
  summary: 'threshold 0.9, relaxed to 0.75 within radius 4 of a confident anchor',
  paper: 'Accelerating Diffusion LLM Inference via Local Determinism Propagation (LocalLeap), 2025 (arXiv:2510.07081)',
  params: {
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'anchor / default threshold' },
    relaxed: { type: 'number', default: 0.75, min: 0, max: 1, description: 'threshold near an anchor' },
    radius: { type: 'int', default: 4, min: 0, description: 'neighbourhood radius (positions)' },
  },
  create: ({ tau, relaxed, radius }) => ({
    decide: (row, pred) => {
      const confidenceOf = (pos: number) => pred.confidence[pos]!;
      const anchors = row.candidates.filter((pos) => confidenceOf(pos) >= tau);
      const near = (pos: number) => anchors.some((a) => Math.abs(a - pos) <= radius);
      const thresholdAt = (pos: number) => (anchors.length > 0 && near(pos) ? relaxed : tau);
      return { commit: acceptedOrBest(row.candidates, confidenceOf, (pos) => confidenceOf(pos) >= thresholdAt(pos)) };
    },
  }),
});
