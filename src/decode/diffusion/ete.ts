/**
 * ETE — Explore-Then-Exploit ("From Bits to Rounds: Parallel Decoding with Exploration for
 * Diffusion Language Models", 2025, arXiv:2511.21103). No code exists; the rule below is paradec's
 * design from the abstract and notes, stated exactly.
 *
 * The paper's argument (bits-to-rounds): a token committed at probability p carries −ln p nats, so
 * a threshold decoder (p ≥ τ) gains almost no information per round and needs rounds linear in the
 * sample's negative log-likelihood (`bitsToRoundsLowerBound`). ETE spends rounds on informative,
 * high-uncertainty tokens that reshape the conditional distribution and trigger cascades of
 * confident ones, and decodes across blocks.
 *
 * Each step, with τ = 0.9:
 *   exploit: commit every masked position of the current block with confidence ≥ τ, and, across
 *            blocks, every masked position of the next `cross_blocks` blocks (default 1; the block
 *            size is the current block's) with confidence ≥ `cross_tau` (default τ).
 *   explore: when NO position of the block reaches τ (a threshold decoder would commit only its
 *            forced top-1 and gain < −ln p of information), try `explore_width` (4) candidate moves
 *            in ONE batched forward (`services.forwardCandidates`, one NFE): the block's masked
 *            positions with the highest entropy, plus the baseline's move (the most confident one).
 *            Each candidate x is committed to its argmax on a copy of the canvas; its information
 *            gain is the entropy reduction it causes on the block's other masked positions,
 *            Σ_j [H_j(canvas) − H_j(canvas + x)] (how much it tells about the rest). The candidate
 *            with the largest gain is committed (ties: the baseline's move), together with its
 *            cascade read from that same forward: every other masked position of the block (and of
 *            the cross blocks) now at ≥ τ — or, when none, the now most confident one, the step the
 *            next round would take anyway.
 * An explore step costs two forwards and commits at least two tokens, so its tokens per forward
 * never fall below the one-token-per-step rate; whenever the explored token triggers a cascade it is
 * ahead of the threshold decoder, which would have spent a round on one confident token.
 * With temperature > 0 the explored token is the loop's sample; cascade tokens are the argmax of the
 * exploration forward.
 */
import type { BidirectionalModel } from '../../runtime/types.js';
import { confidence as confidenceRule } from './confidence.js';
import { headRow, maskedIn, rankByConfidence, thresholdCommit } from './helpers.js';
import { returnValue } from '../drain.js';
import { runDiffusion, type DiffusionOptions } from './loop.js';
import { defineDiffusionStrategy, type DiffusionStrategy } from './types.js';

/**
 * The bits-to-rounds lower bound on decoding rounds for a threshold-style parallel decoder
 * (arXiv:2511.21103): R ≥ max(−ln p(x) / ln((n+1)/((1−f)n+1)), (−ln p(x) − ε)/f), where
 * `nll` = −ln p(x) in nats, `n` = tokens generated, `f` = the per-token error allowance of the
 * threshold rule (τ = 1 − f, our reading of the paper's notation) and ε a slack term.
 */
export function bitsToRoundsLowerBound(nll: number, n: number, f: number, epsilon = 0): number {
  if (!(f > 0)) return Infinity;
  const perRound = Math.log((n + 1) / ((1 - f) * n + 1));
  const a = perRound > 0 ? nll / perRound : Infinity;
  const b = (nll - epsilon) / f;
  return Math.max(a, b, 0);
}

/**
 * −ln p(x) of each row's one-token-per-step (`confidence`, k = 1) output, by the chain rule along
 * its own decoding order: the sum of −ln(probability of each token when it was committed). This is
 * the `nll` the bound needs. Tokens the loop fills after a settled end-of-text (`eosFill`, on by
 * default) cost no round and count as certain (0 nats); pass `eosFill: false` to score them too.
 */
export async function oneTokenPerStepNll(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  options: DiffusionOptions & { eosTokenIds: readonly number[] },
): Promise<{ nll: number[]; generated: number[][]; nfe: number[]; work: number[] }> {
  const { eosTokenIds, ...loopOptions } = options;
  const base = confidenceRule.create({ k: 1 });
  const nll = prompts.map(() => 0);
  const scoring: DiffusionStrategy = {
    name: 'confidence-nll',
    decide: async (row, pred, services) => {
      const d = await base.decide(row, pred, services);
      for (const pos of d.commit) nll[row.row]! += -Math.log(Math.max(pred.confidence[pos]!, 1e-30));
      return d;
    },
  };
  const results = await returnValue(runDiffusion(model, prompts, scoring, eosTokenIds, loopOptions));
  return { nll, generated: results.map((r) => r.generated), nfe: results.map((r) => r.nfe), work: results.map((r) => r.work) };
}

export const ete = defineDiffusionStrategy({
  name: 'ete',
  summary: 'threshold 0.9 across blocks; when nothing passes, explore the most informative uncertain token (ETE)',
  paper: 'From Bits to Rounds: Parallel Decoding with Exploration for Diffusion Language Models (ETE), 2025 (arXiv:2511.21103)',
  params: {
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'exploit threshold' },
    cross_blocks: { type: 'int', default: 1, min: 0, description: 'later blocks whose confident tokens are committed too (unset: all)' },
    cross_tau: { type: 'number', default: null, min: 0, max: 1, description: 'threshold in later blocks (unset: tau)' },
    explore: { type: 'boolean', default: true, description: 'explore when nothing passes tau' },
    explore_width: { type: 'int', default: 4, min: 1, description: 'high-entropy candidates tried per exploration (one batched forward)' },
  },
  create: ({ tau, cross_blocks: crossBlocks, cross_tau: crossTauGiven, explore, explore_width: width }) => {
    const crossTau = crossTauGiven ?? tau;
    return {
      decide: async (row, pred, services) => {
        const C = row.candidates;
        const size = Math.max(1, row.blockEnd - row.blockStart);
        const crossEnd = crossBlocks === null ? row.canvas.length : Math.min(row.canvas.length, row.blockEnd + crossBlocks * size);
        const cross = maskedIn(row.canvas, row.maskTokenId, row.blockEnd, crossEnd);
        const passes = C.some((pos) => pred.confidence[pos]! >= tau);
        if (passes || !explore || C.length <= 1) {
          const commit = new Set(thresholdCommit(C, (pos) => pred.confidence[pos]!, tau));
          for (const pos of cross) if (pred.confidence[pos]! >= crossTau) commit.add(pos);
          return { commit: [...commit] };
        }
        // explore: the baseline move first (it wins ties), then the highest-entropy candidates
        const top1 = rankByConfidence(C, (pos) => pred.confidence[pos]!)[0]!;
        const byEntropy = [...C].sort((a, b) => pred.entropy(b) - pred.entropy(a) || a - b).filter((p) => p !== top1);
        const tries = [top1, ...byEntropy.slice(0, width)];
        const canvases = tries.map((x) => {
          const c = row.canvas.slice();
          c[x] = pred.tokens[x]!;
          return c;
        });
        const head = await services.forwardCandidates(row, canvases);
        let bestI = 0;
        let bestGain = -Infinity;
        tries.forEach((x, i) => {
          const h = headRow(head, i);
          let gain = 0;
          for (const j of C) if (j !== x) gain += pred.entropy(j) - h.entropy(j);
          if (gain > bestGain) [bestI, bestGain] = [i, gain];
        });
        const x = tries[bestI]!;
        const h = headRow(head, bestI);
        const rest = C.filter((j) => j !== x);
        const cascade = rest.filter((j) => h.confidence(j) >= tau);
        if (cascade.length === 0) cascade.push(rankByConfidence(rest, (j) => h.confidence(j))[0]!);
        for (const j of cross) if (h.confidence(j) >= crossTau) cascade.push(j);
        return { commit: [x, ...cascade], tokens: [pred.tokens[x]!, ...cascade.map((j) => h.token(j))] };
      },
    };
  },
});
