/**
 * FreeDave — Free Draft-and-Verification (Wu & Zhang, 2025, "Free Draft-and-Verification: Toward
 * Lossless Parallel Decoding for Diffusion Large Language Models", arXiv:2510.00294;
 * cychomatica/FreeDave `generation/core.py`, exact-match rule).
 *
 * Lossless with respect to one-token-per-step confidence decoding (`confidence` with k = 1):
 * the output is the same token sequence, obtained with fewer forward passes.
 *
 * One round, from a state S whose exact prediction P(S) is known:
 *   1. drafts: draft_j = S with the top-(j+1) most confident masked tokens of the block filled
 *      (in the one-token-per-step ranking: confidence descending, ties leftmost), j = 0..K-1.
 *      draft_0 is exactly the baseline's next state.
 *   2. verify: ONE batched forward over the K drafts (`services.forwardCandidates`, one NFE);
 *      target(draft_i) = what one-token-per-step decoding commits next from draft_i.
 *   3. accept greedily: the longest chain draft_0 … draft_m in which target(draft_i) is exactly
 *      the token draft_{i+1} adds. Every accepted draft is a state the baseline passes through.
 *   4. S ← draft_m, and its prediction P(draft_m) came with the verification forward, so the next
 *      round needs no extra forward.
 * Rounds repeat inside one loop step until the block is full (or `max_rounds`), so a step costs
 * 1 + rounds forwards and commits ≥ rounds + 1 tokens; a round never commits fewer tokens than its
 * forward would have in the baseline. The loop's forward that follows a step is the exact
 * prediction of the committed state, which the next step uses as its P(S).
 *
 * End of text: the chain stops at a draft whose text becomes settled (an end-of-text token with no
 * mask before it), where the loop's `eosFill` would fill the rest; the loop then does exactly what
 * it does after the baseline's step, with or without `eosFill`.
 *
 * Real tokens only (a documented difference): the reference drafts and verifies with a plain argmax
 * over the whole vocabulary (`generation/sampling_utils.py` `sample_tokens` at temperature 0, via
 * `DLMGeneration.get_mask_token_prediction_and_confidence`), which a trained model never resolves
 * to the mask token. paradec's loop never predicts the mask token (predictions.ts
 * `predictionsFor`: the best other token of the top-k), so the drafts and targets read every
 * verification forward the same way (`realTokenRow`). Otherwise a head that ranks the mask first
 * would give a draft equal to the canvas: the round would commit nothing, the rounds would never
 * end with `max_rounds` unset, and the targets would not be the baseline's commits. Every draft
 * thus fills at least one masked position with a real token, so every round commits at least one
 * token and a step ends after at most as many rounds as the block has masks.
 *
 * Sampling (T > 0): every forward's predictions are drawn as the loop draws its own
 * (predictions.ts `predictionsFor`: a Gumbel-max sample of softmax(logits / T) at each masked
 * position with the loop's random source, the mask token excluded, confidence = the sample's
 * temperature-1 probability); the first round uses the loop's samples, each verification row is
 * sampled the same way (the reference's `sample_tokens` at the same temperature in both), and the
 * accepted draft's samples are the next round's predictions, so the state a round moves to is
 * always the one a fresh sample of the baseline's step would give: the output has the sampled
 * baseline's distribution. The reference ranks by the sample's probability under the tempered
 * (and top-p / top-k filtered) distribution; paradec ranks by the loop's confidence (LLaDA's
 * convention), so that its baseline stays paradec's `confidence` with k = 1.
 *
 * Defaults: K = 4 drafts (the paper's runs use 2 and 4). Exact match only (the paper's
 * confidence-aware FreeDave++ "subset" rule is left out). Lossless at temperature 0 (the same
 * tokens) and in distribution when sampling. On real hardware a batched forward may differ from
 * a single one in the last bits, which can flip ties.
 */
import { maskedIn, predictionsRow, rankByConfidence, realTokenRow, type HeadRow } from './helpers.js';
import { predictionsFor } from './predictions.js';
import { isSettled } from './settled.js';
import { defineDiffusionStrategy } from './types.js';

export const freedave = defineDiffusionStrategy({
  name: 'freedave',
  summary: 'lossless draft-and-verify: K one-token drafts verified in one batched forward (FreeDave)',
  paper: 'Wu & Zhang 2025, Free Draft-and-Verification: Toward Lossless Parallel Decoding for Diffusion LLMs (arXiv:2510.00294)',
  params: {
    drafts: { type: 'int', default: 4, min: 1, description: 'K: drafts verified per batched forward (draft j fills the top j+1 tokens)' },
    max_rounds: { type: 'int', default: null, min: 0, description: 'verification rounds per loop step (unset: until the block is full)' },
  },
  create: ({ drafts: K, max_rounds: roundsGiven }) => {
    const maxRounds = roundsGiven ?? Infinity;
    return {
      decide: async (row, pred, services) => {
        const mask = row.maskTokenId;
        const eos = row.eosTokenIds;
        const temperature = pred.temperature ?? 0;
        let canvas: Int32Array = row.canvas.slice();
        const wasSettled = isSettled(canvas, row.promptLength, mask, eos);
        const settles = (c: Int32Array) => !wasSettled && isSettled(c, row.promptLength, mask, eos);
        let P: HeadRow = predictionsRow(pred);
        const commit: number[] = [];
        const tokens: number[] = [];
        let rounds = 0;
        for (;;) {
          const cands = maskedIn(canvas, mask, row.blockStart, row.blockEnd);
          if (cands.length === 0) break;
          const cur = P;
          const ranking = rankByConfidence(cands, (pos) => cur.confidence(pos));
          // drafts: draft_j = canvas + ranking[0..j]; stop at the first draft that settles the text
          const drafts: Int32Array[] = [];
          let d: Int32Array = canvas;
          for (let j = 0; j < Math.min(K, ranking.length); j++) {
            // a draft fills a real token; only a top-1 head ranking the mask first gives none
            if (cur.token(ranking[j]!) === mask) break;
            d = d.slice();
            d[ranking[j]!] = cur.token(ranking[j]!);
            drafts.push(d);
            if (settles(d)) break;
          }
          const last = drafts[drafts.length - 1];
          const done = drafts.length <= 1 && (drafts.length === 0 || ranking.length === 1 || settles(last!));
          if (rounds >= maxRounds || done || K === 1) {
            // the baseline's step from an exact prediction: no verification needed
            commit.push(ranking[0]!);
            tokens.push(cur.token(ranking[0]!));
            break;
          }
          // the last draft needs a forward only if decoding continues from it (block not full, text
          // not settled); it is verified by the forward of the draft before it
          const lastFinal = drafts.length === ranking.length || settles(last!);
          const head = await services.forwardCandidates(row, lastFinal ? drafts.slice(0, -1) : drafts);
          rounds += 1;
          // each draft's predictions, read once: argmax at T = 0, the loop's own draw at T > 0
          const seen: HeadRow[] = [];
          const predicted = (m: number): HeadRow =>
            (seen[m] ??= temperature > 0 ? predictionsRow(predictionsFor(head, m, drafts[m]!, { temperature, rng: services.rng, maskTokenId: mask, strategyName: 'freedave' })) : realTokenRow(head, m, mask));
          let m = 0;
          while (m + 1 < drafts.length) {
            const dm = drafts[m]!;
            const next = maskedIn(dm, mask, row.blockStart, row.blockEnd);
            if (next.length === 0) break;
            const hm = predicted(m);
            const target = rankByConfidence(next, (pos) => hm.confidence(pos))[0]!;
            const want = ranking[m + 1]!;
            if (target !== want || hm.token(target) !== cur.token(want)) break;
            m += 1;
          }
          for (let j = 0; j <= m; j++) {
            commit.push(ranking[j]!);
            tokens.push(cur.token(ranking[j]!));
          }
          canvas = drafts[m]!;
          if (settles(canvas) || (lastFinal && m === drafts.length - 1)) break;
          P = predicted(m);
        }
        return { commit, tokens };
      },
    };
  },
});
