/**
 * CreditDecoding ("CreditDecoding: Accelerating Parallel Decoding in Diffusion
 * LLMs with Trace Credits", 2025, arXiv:2510.06133; implemented as in inclusionAI/dInfer
 * `CreditThresholdParallelDecoder`): every masked position keeps a credit per token that decays
 * by β = 0.8 each step and grows by p_top1^γ (γ = 0.2) for the token currently on top; the
 * credit is fused into the logits as logits + α·log(1 + C) (α = 0.7), and the Fast-dLLM
 * threshold rule (τ = 0.9, at least one) runs on the fused distribution. Tokens that stay on top
 * across steps thus cross the threshold earlier. Credit is cleared when a block is finished.
 *
 * The fused softmax is computed over the decode head's top-k (the credited tokens are past top-1
 * tokens, so they are in the top-k unless the prediction changed completely); the probability
 * mass outside the top-k keeps its un-fused weight.
 */
import { thresholdCommit } from './helpers.js';
import { defineDiffusionStrategy } from './types.js';

export const credit = defineDiffusionStrategy({
  name: 'credit',
  summary: 'accumulate per-token trace credit across steps, fuse into logits, then threshold (CreditDecoding)',
  paper: 'CreditDecoding: Accelerating Parallel Decoding in Diffusion LLMs with Trace Credits, 2025 (arXiv:2510.06133)',
  params: {
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'threshold on the fused confidence' },
    beta: { type: 'number', default: 0.8, min: 0, max: 1, description: 'credit decay per step' },
    gamma: { type: 'number', default: 0.2, min: 0, description: 'credit boost exponent p^gamma' },
    alpha: { type: 'number', default: 0.7, min: 0, description: 'fusion weight: logits + alpha*log(1+C)' },
  },
  create: ({ tau, beta, gamma, alpha }) => {
    /** per row: block index the credit belongs to, and credit[pos][token] */
    const state = new Map<number, { block: number; credit: Map<number, Map<number, number>> }>();
    return {
      decide: (row, pred) => {
        let s = state.get(row.row);
        if (!s || s.block !== row.blockIndex) {
          s = { block: row.blockIndex, credit: new Map() };
          state.set(row.row, s);
        } else {
          for (const m of s.credit.values()) for (const [t, c] of m) m.set(t, c * beta);
        }
        const fusedTop = new Map<number, { token: number; conf: number }>();
        for (const pos of row.candidates) {
          const ids = pred.topkIds(pos);
          const probs = pred.topkProbs(pos);
          let m = s.credit.get(pos);
          if (!m) s.credit.set(pos, (m = new Map()));
          m.set(ids[0]!, (m.get(ids[0]!) ?? 0) + Math.pow(probs[0]!, gamma));
          // fused weights: p_v (1 + C_v)^alpha over the top-k; outside mass unchanged
          let outside = 1;
          let z = 0;
          let bestTok = ids[0]!;
          let bestW = -1;
          for (let j = 0; j < ids.length; j++) {
            outside -= probs[j]!;
            const w = probs[j]! * Math.pow(1 + (m.get(ids[j]!) ?? 0), alpha);
            z += w;
            if (w > bestW) {
              bestW = w;
              bestTok = ids[j]!;
            }
          }
          z += Math.max(0, outside);
          fusedTop.set(pos, { token: bestTok, conf: bestW / z });
        }
        const commit = thresholdCommit(row.candidates, (pos) => fusedTop.get(pos)!.conf, tau);
        for (const pos of commit) s.credit.delete(pos);
        return { commit, tokens: commit.map((pos) => fusedTop.get(pos)!.token) };
      },
    };
  },
});
