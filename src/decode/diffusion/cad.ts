/**
 * CAD — confidence-adaptive decoding of CD4LM ("CD4LM: Consistency Distillation and aDaptive
 * Decoding for Diffusion Language Models", 2026; yihao-liang/CDLM
 * `LLaDA_generate_dynamic.py`): each step commits k = clamp(#{confidence ≥ 0.8}, 1, 4) of the
 * block's most confident masked tokens, and end-of-text is blocked (its logit set to −∞, the
 * next-best token taken with renormalised confidence) until half of the output is generated.
 */
import { defineDiffusionStrategy } from './types.js';

export const cad = defineDiffusionStrategy({
  name: 'cad',
  summary: 'commit clamp(#{conf >= 0.8}, 1, 4) tokens per step; end-of-text blocked until half the canvas (CD4LM)',
  paper: 'CD4LM: Consistency Distillation and aDaptive Decoding for Diffusion Language Models, 2026',
  params: {
    tau: { type: 'number', default: 0.8, min: 0, max: 1, description: 'confidence counted as certain' },
    min_k: { type: 'int', default: 1, min: 1, description: 'fewest tokens per step' },
    max_k: { type: 'int', default: 4, min: 1, description: 'most tokens per step' },
    eos_after: { type: 'number', default: 0.5, min: 0, max: 1, description: 'fraction of the canvas generated before end-of-text is allowed' },
  },
  create: ({ tau, min_k: minK, max_k: maxK, eos_after: eosAfter }) => {
    return {
      decide: (row, pred) => {
        const generated = row.genLength - row.masked.length;
        const blockEos = generated < eosAfter * row.genLength;
        const choice = new Map<number, { token: number; conf: number }>();
        for (const pos of row.candidates) {
          const ids = pred.topkIds(pos);
          const probs = pred.topkProbs(pos);
          let j = 0;
          let eosMass = 0;
          if (blockEos) {
            for (let i = 0; i < ids.length; i++) if (row.eosTokenIds.includes(ids[i]!)) eosMass += probs[i]!;
            while (j < ids.length - 1 && row.eosTokenIds.includes(ids[j]!)) j++;
          }
          choice.set(pos, { token: ids[j]!, conf: probs[j]! / Math.max(1e-12, 1 - eosMass) });
        }
        const certain = row.candidates.filter((pos) => choice.get(pos)!.conf >= tau).length;
        const k = Math.min(row.candidates.length, Math.max(minK, Math.min(maxK, certain)));
        const ranked = [...row.candidates].sort((a, b) => choice.get(b)!.conf - choice.get(a)!.conf || a - b).slice(0, k);
        return { commit: ranked, tokens: ranked.map((pos) => choice.get(pos)!.token) };
      },
    };
  },
});
