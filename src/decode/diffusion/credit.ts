/**
 * CreditDecoding ("CreditDecoding: Accelerating Parallel Decoding in Diffusion
 * LLMs with Trace Credits", 2025, arXiv:2510.06133; implemented as in inclusionAI/dInfer
 * `CreditThresholdParallelDecoder`): every masked position keeps a credit per token that decays
 * by β = 0.8 each step and grows by p_top1^γ (γ = 0.2) for the token currently on top; the
 * credit is fused into the logits as logits + α·log(1 + C) (α = 0.7), and the Fast-dLLM
 * threshold rule (τ = 0.9, at least one) runs on the fused distribution. Tokens that stay on top
 * across steps thus cross the threshold earlier. Credit is cleared when a block is finished.
 *
 * The token: at temperature 0 the argmax of the fused distribution; at T > 0 a Gumbel-max draw
 * from softmax(fused / T) with the loop's random source (dInfer's `get_transfer_index_threshold`
 * on the fused logits), the mask token excluded as in the loop's own draw. Its confidence is its
 * probability in softmax(fused).
 *
 * At T > 0 the head carries full logits and the fused softmax is exact. At T = 0 it is computed
 * over the decode head's top-k (the credited tokens are past top-1 tokens, so they are in the
 * top-k unless the prediction changed completely); the probability mass outside the top-k keeps
 * its un-fused weight.
 */
import { softmaxRow } from '../head.js';
import { thresholdCommit } from './helpers.js';
import { gumbelArgmax } from './predictions.js';
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
      decide: (row, pred, services) => {
        let s = state.get(row.row);
        if (!s || s.block !== row.blockIndex) {
          s = { block: row.blockIndex, credit: new Map() };
          state.set(row.row, s);
        } else {
          for (const m of s.credit.values()) for (const [t, c] of m) m.set(t, c * beta);
        }
        const temperature = pred.temperature ?? 0;
        const sampled = temperature > 0 && pred.head.logits !== undefined;
        const V = pred.head.vocabSize;
        const fusedTop = new Map<number, { token: number; conf: number }>();
        for (const pos of row.candidates) {
          const ids = pred.topkIds(pos);
          const probs = pred.topkProbs(pos);
          let m = s.credit.get(pos);
          if (!m) s.credit.set(pos, (m = new Map()));
          m.set(ids[0]!, (m.get(ids[0]!) ?? 0) + Math.pow(probs[0]!, gamma));
          if (sampled) {
            // dInfer: fused = logits + α·log(1 + C) over the whole vocabulary, Gumbel noise on it
            const fused = Float32Array.from(pred.logits(pos));
            for (const [t, c] of m) fused[t] = fused[t]! + alpha * Math.log(1 + c);
            const token = gumbelArgmax(fused, 0, V, temperature, services.rng, row.maskTokenId);
            fusedTop.set(pos, { token, conf: softmaxRow(fused, 0, V)[token]! });
            continue;
          }
          // fused weights: p_v (1 + C_v)^alpha over the top-k; outside mass unchanged
          // (never the mask token, the loop's guard, unless the head keeps nothing else)
          let outside = 1;
          let z = 0;
          let bestTok = -1;
          let bestW = -1;
          for (let j = 0; j < ids.length; j++) {
            outside -= probs[j]!;
            const w = probs[j]! * Math.pow(1 + (m.get(ids[j]!) ?? 0), alpha);
            z += w;
            if (w > bestW && (ids[j] !== row.maskTokenId || ids.length === 1)) {
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
