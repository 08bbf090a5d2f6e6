/**
 * BACD — Bounded Adaptive Confidence Decoding, with TCCF block sizes ("Advancing Block Diffusion
 * Language Models for Test-Time Scaling", 2026, TDAR; rule as read in the lmdeploy fork noted in
 * paradec's research notes).
 *
 * Threshold per step: at a block's first step τ0 = clamp(max confidence, 0.6, 0.9); afterwards
 * τt = clamp(mean confidence of the tokens already committed in this block, 0.6, 0.9). Commit every
 * masked position of the block with confidence ≥ τ, at least the most confident one. Easy blocks
 * (confidently committed so far) thus keep a high bar; hard ones lower it, bounded.
 *
 * TCCF ("Think Coarse, Critic Fine") gives large blocks to exploration and small blocks to
 * refinement. paradec's outputs have no separate reasoning phase, so TCCF is applied along the
 * canvas: the first `coarse_until` fraction of the generation region is decoded in blocks of
 * `coarse_block`, the rest in blocks of `fine_block` (unset: the run's block_length).
 */
import { thresholdCommit } from './helpers.js';
import { defineDiffusionStrategy } from './types.js';

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export const bacd = defineDiffusionStrategy({
  name: 'bacd',
  summary: 'threshold = clamp(mean committed confidence in the block, 0.6, 0.9); coarse-then-fine blocks (TCCF)',
  paper: 'Advancing Block Diffusion Language Models for Test-Time Scaling (BACD, TCCF), 2026',
  params: {
    low: { type: 'number', default: 0.6, min: 0, max: 1, description: 'lower bound of the threshold' },
    high: { type: 'number', default: 0.9, min: 0, max: 1, description: 'upper bound of the threshold' },
    coarse_block: { type: 'int', default: null, min: 1, description: 'TCCF: block size for the first part (unset: block_length)' },
    fine_block: { type: 'int', default: null, min: 1, description: 'TCCF: block size for the rest (unset: block_length)' },
    coarse_until: { type: 'number', default: 0.5, min: 0, max: 1, description: 'TCCF: fraction of the canvas decoded with coarse blocks' },
  },
  create: ({ low, high, coarse_block: coarse, fine_block: fine, coarse_until: until }) => {
    /** per row: block index → confidences of the tokens committed in it */
    const committed = new Map<number, { block: number; confs: number[] }>();
    return {
      chooseBlockEnd: (row) => {
        if (coarse === null && fine === null) return row.blockEnd;
        const offset = row.blockStart - row.promptLength;
        const size = offset < until * row.genLength ? (coarse ?? row.blockEnd - row.blockStart) : (fine ?? row.blockEnd - row.blockStart);
        return row.blockStart + size;
      },
      decide: (row, pred) => {
        let s = committed.get(row.row);
        if (!s || s.block !== row.blockIndex || row.stepInBlock === 0) {
          s = { block: row.blockIndex, confs: [] };
          committed.set(row.row, s);
        }
        const confidenceOf = (pos: number) => pred.confidence[pos]!;
        const tau =
          s.confs.length === 0
            ? clamp(Math.max(...row.candidates.map(confidenceOf)), low, high)
            : clamp(s.confs.reduce((a, b) => a + b, 0) / s.confs.length, low, high);
        const commit = thresholdCommit(row.candidates, confidenceOf, tau);
        for (const pos of commit) s.confs.push(pred.confidence[pos]!);
        return { commit };
      },
    };
  },
});
