/**
 * CNTP: "Cautious Next Token Prediction" (2025; reference code: wyzjack/CNTP
 * `custom_transformers_packages/.../generation/utils.py`). A quality decoder, not a
 * speed-up.
 *
 * At each step the entropy H of the next-token distribution decides how cautious to be:
 * n = ⌊1 + (max_trials − 1) · clamp((H − h_low) / (h_high − h_low), 0, 1)⌋ trials (reference
 * defaults max_trials = 40, h_low = 0.01, h_high = 1.5). With one trial the step is an ordinary
 * decoding step. Otherwise n trials are sampled independently from this step until each reaches
 * a punctuation token or end-of-text (or `max_trial_tokens`), and the trial with the lowest
 * perplexity is committed whole, with its KV cache. The punctuation tokens are the reference's:
 * the first id of each of `. , \n ? ! : ; ) ] }` encoded alone by the target's tokenizer, so a
 * token that merely contains one of them (`", "`) does not end a trial.
 *
 * Trials are the rows of batched forwards (one forward per trial token for all trials). They are
 * sampled at the session's temperature, or at `temperature` (default 1) when the session decodes
 * greedily — greedy trials would all be the same path, and the reference only runs CNTP when
 * sampling. Perplexity is exp(−mean log p) with p the probability each token was drawn with (the
 * sampler's warped distribution, as the reference records `curr_probs[token]`).
 */
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { rollout, type RolloutStep } from './rollout.js';
import { drawCategorical, samplingDistribution, type SamplingOptions } from './sampling.js';
import { selectRow } from './kv.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';

export const CNTP_PUNCTUATION = ['.', ',', '\n', '?', '!', ':', ';', ')', ']', '}'];

/**
 * The tokens that end a trial: the first id of each punctuation character encoded alone
 * (the reference's `tokenizer.encode(c, add_special_tokens=False)[0]`; a character that encodes
 * to nothing ends no trial).
 */
export function punctuationIds(encode: (text: string) => number[]): ReadonlySet<number> {
  const ids = new Set<number>();
  for (const c of CNTP_PUNCTUATION) {
    const first = encode(c)[0];
    if (first !== undefined) ids.add(first);
  }
  return ids;
}

/** The punctuation ids per encoder (one per target tokenizer), found on a session's first trial. */
const STOPS = new WeakMap<(text: string) => number[], ReadonlySet<number>>();

/** The reference's trial count for entropy `h`. */
export function cntpTrials(h: number, maxTrials: number, hLow: number, hHigh: number): number {
  const x = Math.min(1, Math.max(0, (h - hLow) / (hHigh - hLow)));
  return Math.floor(1 + (maxTrials - 1) * x);
}

function entropyOf(p: Float64Array): number {
  let h = 0;
  for (let v = 0; v < p.length; v++) if (p[v]! > 0) h -= p[v]! * Math.log(p[v]!);
  return h;
}

function createCntp(params: ParamValuesOf<typeof CNTP_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const { max_trials: maxTrials, h_low: hLow, h_high: hHigh, max_trial_tokens: maxTrialTokens, temperature: trialTemperature } = params;
  return {
    async step(session) {
      const scored = await session.score([], { logits: true });
      const { head, first, cache } = scored;
      const V = head.vocabSize;
      const sampling: SamplingOptions = session.greedy ? { temperature: trialTemperature, topK: session.sampling.topK, topP: session.sampling.topP } : session.sampling;
      const dist = samplingDistribution(head.logits!, first * V, V, sampling);
      const h = session.greedy ? head.entropy[first]! : entropyOf(dist);
      const n = session.remaining > 1 ? cntpTrials(h, maxTrials, hLow, hHigh) : 1;
      if (n <= 1) {
        const token = session.choose(head, first);
        session.commit([token], cache);
        return { tokens: [token], drafted: 0, accepted: 0 };
      }
      const encode = session.models.encode('cntp', 'to find the punctuation tokens');
      let stops = STOPS.get(encode);
      if (!stops) STOPS.set(encode, (stops = punctuationIds(encode)));
      const eos = session.model.eosTokenIds;
      const ends = (t: number): boolean => eos.includes(t) || stops.has(t);
      const starts: RolloutStep[] = Array.from({ length: n }, () => {
        const token = drawCategorical(dist, session.rng);
        return { token, logp: Math.log(dist[token]!) };
      });
      const trials = await rollout(session.model, cache, starts, {
        maxLength: Math.min(maxTrialTokens, session.remaining),
        logits: true,
        next: (out, row) => {
          const d = samplingDistribution(out.logits!, row * V, V, sampling);
          const token = drawCategorical(d, session.rng);
          return { token, logp: Math.log(d[token]!) };
        },
        stop: (t) => ends(t),
      });
      session.nfe += trials.forwards;
      let best = 0;
      let bestPpl = Infinity;
      trials.logp.forEach((lp, r) => {
        const ppl = Math.exp(-lp.reduce((a, b) => a + b, 0) / lp.length);
        if (ppl < bestPpl) {
          bestPpl = ppl;
          best = r;
        }
      });
      const tokens = trials.tokens[best]!;
      session.commit(tokens, selectRow(trials.cache, best));
      return { tokens, drafted: 0, accepted: 0 };
    },
  };
}

const CNTP_PARAMS = paramSpecs({
  max_trials: { type: 'int', default: 40, min: 1, max: 256, description: 'trials at the highest entropy' },
  h_low: { type: 'number', default: 0.01, min: 0, description: 'entropy (nats) below which one trial is used' },
  h_high: { type: 'number', default: 1.5, min: 0, description: 'entropy (nats) at which max_trials are used' },
  max_trial_tokens: { type: 'int', default: 32, min: 1, max: 1024, description: 'longest trial when no punctuation comes' },
  temperature: { type: 'number', default: 1, min: 0.01, description: 'trial temperature when the session decodes greedily' },
});

export const cntp = defineAutoregressiveStrategy({
  name: 'cntp',
  summary: 'when the next token is uncertain (high entropy), sample several trials to the next punctuation and keep the lowest-perplexity one',
  paper: 'Cautious Next Token Prediction (CNTP), 2025 (code: wyzjack/CNTP)',
  params: CNTP_PARAMS,
  create: createCntp,
});
