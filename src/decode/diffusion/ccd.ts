/**
 * CCD — Coherent Contextual Decoding with dynamic sampling (CCD-DS) ("Beyond Confidence: Adaptive
 * and Coherent Decoding for Diffusion Language Models", 2025, arXiv:2512.02044, ICML 2026). No code
 * was available; this is paradec's reading of the abstract and notes, stated exactly:
 *
 * Trajectory rectification. For every masked position i the strategy keeps the decode head's top-k
 * distributions of the last W steps (`window`, default 3; steps since i was last committed). The
 * target distribution is their average
 *     q_i(v) = (1/n_i) Σ_s p_{s,i}(v)            (n_i ≤ W steps in the window)
 * (mass outside a step's top-k is one "other" outcome). The token committed at i is
 * ŷ_i = argmax q_i and its score is s_i = q_i(ŷ_i): a token that is confident now but was not a
 * moment ago scores low, and a one-step flip does not change what is committed.
 *
 * Consistency. The paper ties rectification to the conditional mutual information between context
 * and prediction; with the window's steps as the contexts (uniform), that is the generalized
 * Jensen–Shannon divergence
 *     MI_i = H(q_i) − (1/n_i) Σ_s H(p_{s,i})      (nats, ≥ 0; 0 iff all steps agree exactly).
 *
 * Adaptive budget (CCD-DS). Each step commits
 *     top-b masked block positions by s_i, b = the base schedule's count (`k`, default: the LLaDA
 *     even split, i.e. one per step when steps = gen_length)
 *   ∪ every masked block position that is consistent: a full window (n_i = W), MI_i ≤ ε (0.05 nats)
 *     and s_i ≥ τ (0.9).
 * So the budget of a step is the base count plus the number of positions whose recent predictions
 * agree: more tokens when the recent predictions agree, the base schedule when they do not.
 *
 * History is kept for every masked position of the generation region (not only the current block),
 * so a new block starts with full windows; it is dropped when a position is committed.
 */
import { TOKENS_PER_STEP_PARAM, stepCount } from './ranking.js';
import { defineDiffusionStrategy } from './types.js';

interface Dist {
  ids: number[];
  probs: number[];
  other: number;
}

function entropyOf(probs: Iterable<number>): number {
  let h = 0;
  for (const p of probs) if (p > 0) h -= p * Math.log(p);
  return h;
}

/** Window average, its argmax and the Jensen–Shannon consistency of a position's history. */
export function coherentTarget(history: readonly Dist[]): { token: number; score: number; mi: number } {
  const n = history.length;
  const q = new Map<number, number>();
  let other = 0;
  // current step first, so ties go to the current prediction
  for (let s = n - 1; s >= 0; s--) {
    const d = history[s]!;
    d.ids.forEach((id, j) => q.set(id, (q.get(id) ?? 0) + d.probs[j]! / n));
    other += d.other / n;
  }
  let token = -1;
  let score = -1;
  for (const [id, p] of q) if (p > score) [token, score] = [id, p];
  const meanH = history.reduce((acc, d) => acc + entropyOf([...d.probs, d.other]), 0) / n;
  const mi = Math.max(0, entropyOf([...q.values(), other]) - meanH);
  return { token, score, mi };
}

export const ccd = defineDiffusionStrategy({
  name: 'ccd',
  summary: 'commit by predictions averaged over the last 3 steps; budget grows with their consistency (CCD-DS)',
  paper: 'Beyond Confidence: Adaptive and Coherent Decoding for Diffusion Language Models (CCD), 2025 (arXiv:2512.02044)',
  params: {
    ...TOKENS_PER_STEP_PARAM,
    window: { type: 'int', default: 3, min: 1, description: 'W: recent steps averaged per position' },
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'averaged confidence a consistent position needs' },
    epsilon: { type: 'number', default: 0.05, min: 0, description: 'ε: largest window mutual information (nats) that counts as consistent' },
  },
  create: ({ window: W, tau, epsilon: eps, k }) => {
    const history = new Map<number, Map<number, Dist[]>>();
    return {
      begin: (row) => history.set(row.row, new Map()),
      decide: (row, pred) => {
        let h = history.get(row.row);
        if (!h) history.set(row.row, (h = new Map()));
        const masked = new Set(row.masked);
        for (const pos of [...h.keys()]) if (!masked.has(pos)) h.delete(pos);
        for (const pos of row.masked) {
          const ids = Array.from(pred.topkIds(pos));
          const probs = Array.from(pred.topkProbs(pos));
          // the committed token is the loop's (argmax or sampled) prediction: make sure it is counted
          if (!ids.includes(pred.tokens[pos]!)) {
            ids.push(pred.tokens[pos]!);
            probs.push(pred.confidence[pos]!);
          }
          const other = Math.max(0, 1 - probs.reduce((a, b) => a + b, 0));
          const list = h.get(pos) ?? [];
          list.push({ ids, probs, other });
          if (list.length > W) list.shift();
          h.set(pos, list);
        }
        const target = new Map(row.candidates.map((pos) => [pos, coherentTarget(h.get(pos)!)] as const));
        const ranked = [...row.candidates].sort((a, b) => target.get(b)!.score - target.get(a)!.score || a - b);
        const commit = new Set(ranked.slice(0, Math.max(1, stepCount(row, k))));
        for (const pos of row.candidates) {
          const t = target.get(pos)!;
          if (h.get(pos)!.length === W && t.mi <= eps && t.score >= tau) commit.add(pos);
        }
        const positions = [...commit].sort((a, b) => a - b);
        return { commit: positions, tokens: positions.map((pos) => target.get(pos)!.token) };
      },
    };
  },
});
