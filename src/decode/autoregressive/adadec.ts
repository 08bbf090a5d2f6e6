/**
 * AdaDec: uncertainty-guided adaptive decoding with pause-then-rerank (code: SYSUSELab/AdaDec,
 * `llm/generator.py`, decoding mode AdaFixL with beam size 1). A quality decoder, not a speed-up.
 *
 * Decoding is greedy while the Shannon entropy of the next-token distribution stays below a
 * threshold. When it passes the threshold, decoding pauses: the top `candidates` tokens (B = 3)
 * are each followed by a greedy lookahead of up to `lookahead` tokens (L = 5, stopping at
 * end-of-text), and scored (log p(c) + Σ lookahead log p) / (length + 1) · λ (λ = 1); the best
 * candidate is committed (only it: the lookahead is discarded) and greedy decoding resumes.
 *
 * The threshold is learned per model in the paper (logistic regression on "the reference token
 * ranks first", 0.62–1.32 nats for the models in its `learned_thresholds.json`); paradec has no
 * learned value for its models and defaults to 1.0 nats, within that range (`threshold`).
 * Entropy is the decode head's (temperature 1). Lookahead runs as the rows of batched forwards:
 * L extra forwards per pause, counted as forward passes.
 */
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { rollout } from './rollout.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';

function createAdadec(params: ParamValuesOf<typeof ADADEC_PARAMS>): Omit<AutoregressiveStrategy, 'name'> & { readonly pauses: number } {
  const { threshold, candidates, lookahead, lambda } = params;
  let pauses = 0;
  return {
    get pauses() {
      return pauses;
    },
    async step(session) {
      const { head, first, cache } = await session.score([]);
      const h = head.entropy[first]!;
      const B = Math.min(candidates, head.k);
      if (h < threshold || B < 2 || session.remaining <= 1) {
        const token = session.choose(head, first);
        session.commit([token], cache);
        return { tokens: [token], drafted: 0, accepted: 0 };
      }
      pauses += 1;
      const eos = session.model.eosTokenIds;
      const starts = Array.from({ length: B }, (_, j) => ({
        token: head.topkIds[first * head.k + j]!,
        logp: Math.log(head.topkProbs[first * head.k + j]!),
      }));
      const look = await rollout(session.model, cache, starts, {
        maxLength: 1 + Math.min(lookahead, session.remaining - 1),
        logits: false,
        next: (out, row) => ({ token: out.topkIds[row * out.k]!, logp: Math.log(out.topkProbs[row * out.k]!) }),
        stop: (t) => eos.includes(t),
      });
      session.nfe += look.forwards;
      let best = 0;
      let bestScore = -Infinity;
      look.logp.forEach((lp, r) => {
        const score = (lp.reduce((a, b) => a + b, 0) / lp.length) * lambda;
        if (score > bestScore) {
          bestScore = score;
          best = r;
        }
      });
      const token = starts[best]!.token;
      session.commit([token], cache);
      return { tokens: [token], drafted: 0, accepted: 0 };
    },
  };
}

const ADADEC_PARAMS = paramSpecs({
  threshold: { type: 'number', default: 1.0, min: 0, description: 'entropy (nats) at which decoding pauses to rerank (learned per model in the paper)' },
  candidates: { type: 'int', default: 3, min: 2, max: 64, description: 'top tokens reranked (B)' },
  lookahead: { type: 'int', default: 5, min: 1, max: 64, description: 'greedy lookahead tokens per candidate (L)' },
  lambda: { type: 'number', default: 1, min: 0, description: 'weight of the lookahead score (λ)' },
});

export const adadec = defineAutoregressiveStrategy({
  name: 'adadec',
  summary: 'greedy, but when the entropy passes a threshold pause and rerank the top candidates by a short lookahead',
  paper: 'AdaDec: uncertainty-guided adaptive decoding with pause-then-rerank for code generation (code: SYSUSELab/AdaDec)',
  params: ADADEC_PARAMS,
  create: createAdadec,
});
