/**
 * CAD — confidence-adaptive decoding of CD4LM ("CD4LM: Consistency Distillation and aDaptive
 * Decoding for Diffusion Language Models", 2026). Follows yihao-liang/CDLM
 * `scripts/LLaDA_generate_dynamic.py` (`generate` and `generate_block`, the "confidence"
 * selection method):
 *
 * - Each masked position of the block predicts x0 (argmax, or the Gumbel-max sample at T > 0)
 *   with confidence p(x0).
 * - While fewer than `eos_after` × gen_length tokens are generated, a position whose x0 is
 *   end-of-text gets confidence −∞ for this step: it is not committed and waits for a later
 *   step (its token is not replaced by the next-best one).
 * - Over the remaining (finite) positions: k = min(max(#{conf ≥ tau}, min_k), max_k, #finite),
 *   and the k most confident commit their x0.
 * - When every masked position of the block is blocked, the reference still commits
 *   min(min_k, #masked) of them (their x0, i.e. end-of-text) so that decoding always progresses;
 *   paradec does the same. Every step therefore commits at least one token; the loop's step
 *   bound is never needed for CAD.
 *
 * Documented differences: in that all-blocked case the reference takes `torch.topk` over
 * confidences that are all −∞, so which positions it picks is the tie order of torch; paradec
 * takes the leftmost. Among equal finite confidences paradec prefers the leftmost too. The
 * reference's force-completion at its `max_steps` is the loop's business here (its step bound).
 */
import { defineDiffusionStrategy } from './types.js';

export const cad = defineDiffusionStrategy({
  name: 'cad',
  summary: 'commit clamp(#{conf >= 0.8}, 1, 4) tokens per step; a position predicting end-of-text waits until half the canvas is written (CD4LM)',
  paper: 'CD4LM: Consistency Distillation and aDaptive Decoding for Diffusion Language Models, 2026',
  params: {
    tau: { type: 'number', default: 0.8, min: 0, max: 1, description: 'confidence counted as certain' },
    min_k: { type: 'int', default: 1, min: 1, description: 'fewest tokens per step' },
    max_k: { type: 'int', default: 4, min: 1, description: 'most tokens per step' },
    eos_after: { type: 'number', default: 0.5, min: 0, max: 1, description: 'fraction of the canvas generated before a position predicting end-of-text may commit' },
  },
  create: ({ tau, min_k: minK, max_k: maxK, eos_after: eosAfter }) => {
    return {
      decide: (row, pred) => {
        const generated = row.genLength - row.masked.length;
        const blockEos = generated < eosAfter * row.genLength;
        // positions whose prediction is end-of-text have confidence −∞ this step: they wait
        const valid = blockEos ? row.candidates.filter((pos) => !row.eosTokenIds.includes(pred.tokens[pos]!)) : [...row.candidates];
        if (valid.length === 0) {
          // every candidate blocked: the reference still commits min_k of them (their end-of-text)
          return { commit: row.candidates.slice(0, Math.min(minK, row.candidates.length)) };
        }
        const certain = valid.filter((pos) => pred.confidence[pos]! >= tau).length;
        const k = Math.min(Math.max(certain, minK), maxK, valid.length);
        const ranked = valid.sort((a, b) => pred.confidence[b]! - pred.confidence[a]! || a - b).slice(0, k);
        return { commit: ranked };
      },
    };
  },
});
