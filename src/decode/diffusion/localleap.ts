/**
 * LocalLeap ("Accelerating Diffusion LLM Inference via Local Determinism
 * Propagation", 2025, arXiv:2510.07081): positions with confidence ≥ τ = 0.9 are anchors; masked
 * positions within radius r = 4 of an anchor are committed at the relaxed threshold 0.75 (local
 * determinism propagates), all others need τ; the most confident position is always committed.
 * Rule as in the implementation described in paradec's research notes (the official code was not
 * available).
 */
import type { DiffusionStrategyDefinition } from './types.js';

export const localleap: DiffusionStrategyDefinition = {
  name: 'localleap',
  family: 'diffusion',
  summary: 'threshold 0.9, relaxed to 0.75 within radius 4 of a confident anchor',
  paper: 'Accelerating Diffusion LLM Inference via Local Determinism Propagation (LocalLeap), 2025 (arXiv:2510.07081)',
  params: {
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'anchor / default threshold' },
    relaxed: { type: 'number', default: 0.75, min: 0, max: 1, description: 'threshold near an anchor' },
    radius: { type: 'int', default: 4, min: 0, description: 'neighbourhood radius (positions)' },
  },
  create: (params) => {
    const tau = params.tau as number;
    const relaxed = params.relaxed as number;
    const radius = params.radius as number;
    return {
      name: 'localleap',
      decide: (row, pred) => {
        const anchors = row.candidates.filter((pos) => pred.confidence[pos]! >= tau);
        const near = (pos: number) => anchors.some((a) => Math.abs(a - pos) <= radius);
        let best = row.candidates[0]!;
        const commit: number[] = [];
        for (const pos of row.candidates) {
          if (pred.confidence[pos]! > pred.confidence[best]!) best = pos;
          if (pred.confidence[pos]! >= (anchors.length > 0 && near(pos) ? relaxed : tau)) commit.push(pos);
        }
        if (!commit.includes(best)) commit.push(best);
        return { commit };
      },
    };
  },
};
