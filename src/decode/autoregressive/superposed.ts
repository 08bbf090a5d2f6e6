/**
 * Superposed Decoding (Shen et al. 2024, "Superposed Decoding: Multiple Generations from a Single
 * Autoregressive Inference Pass"; code: RAIVNLab/SuperposedDecoding,
 * `superposed/llama/superpose.py`). k drafts for the cost of one forward pass per token.
 *
 * The k drafts share one KV cache: each step feeds a single input embedding, the superposition
 * Σ_d w_d · E[last token of draft d] with w_d the drafts' normalised probabilities. The model's
 * next-token distribution (softmax at temperature `temp`, top `n_token_sample` kept) is rescored
 * per draft with n-gram statistics of that draft's context: log s_d(t) = (1 − α)·log p_LM(t) +
 * α·log p_ngram(t | draft d), p_ngram an interpolation of 2..6-gram estimates with weights
 * `i_weights`; a draft whose candidates all have p_ngram = 0 falls back to (1 − α)·log p_LM − 200.
 * The 2k best (draft, token) extensions go through beam bookkeeping: the k best unfinished ones
 * stay alive, the finished (end-of-text) ones compete for k finished slots. Defaults are the
 * reference's `params/p15_d3_mixed.json`: k = 3, n_token_sample = 9, α = 0.54, temp = 0.06,
 * i_weights = [0.01, 0.04, 0.15, 0.18, 0.12].
 *
 * paradec decodes the best of the k drafts (the highest log-score among finished drafts, else
 * among the alive ones); `lastDrafts` keeps the k best drafts for callers that want the suggestions.
 * The whole generation happens in one strategy step; the cache is then left empty (it belongs to
 * the superposition, not to the chosen draft).
 *
 * Gaps: the reference builds its n-gram models from a large corpus; paradec has none to ship, so
 * the n-gram counts come from the prompt, and the weight the interpolation leaves over
 * (1 − Σ i_weights = 0.5) goes to the uniform distribution, so tokens the short prompt never
 * shows are down-weighted rather than excluded. Engine: the target must take input embeddings
 * (`EmbeddingCausalModel`): paradec-compiled causal models do (`OnnxCausalModel.forwardEmbeddings`
 * runs an `inputs_embeds` variant of the causal graph in the same worker, on the same caches, and
 * `embed` reads the checkpoint's embedding matrix); on other models (foreign ONNX exports) the
 * strategy stops with an OptionError saying so.
 */
import { OptionError } from '../../errors.js';
import type { CausalModel, DecodeHeadOutput, ForwardOptions, KvCache } from '../../runtime/types.js';
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { softmaxRow } from '../head.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';

/** A causal model whose graph can take input embeddings instead of token ids. */
export interface EmbeddingCausalModel extends CausalModel {
  readonly hiddenSize: number;
  /** false when the methods exist but the model cannot run them (e.g. a foreign ONNX export) */
  readonly acceptsEmbeddings?: boolean;
  /** rows of the input embedding table for `ids`: [ids.length, hiddenSize] */
  embed(ids: readonly number[]): Float32Array;
  /** like `forward`, with embeds [batch, newLength, hiddenSize] in place of token ids */
  forwardEmbeddings(embeds: Float32Array, batch: number, newLength: number, cache: KvCache, options?: ForwardOptions): Promise<{ head: DecodeHeadOutput; cache: KvCache }>;
}

export function acceptsEmbeddings(model: CausalModel): model is EmbeddingCausalModel {
  const m = model as Partial<EmbeddingCausalModel>;
  return typeof m.forwardEmbeddings === 'function' && typeof m.embed === 'function' && typeof m.hiddenSize === 'number' && m.acceptsEmbeddings !== false;
}

/** n-gram counts over a token stream, for context lengths 1..maxContext. */
export class NgramCounts {
  private readonly next = new Map<string, Map<number, number>>();
  private readonly total = new Map<string, number>();
  constructor(private readonly maxContext: number) {}

  addSequence(tokens: readonly number[]): void {
    for (let i = 1; i < tokens.length; i++) {
      for (let c = 1; c <= this.maxContext && c <= i; c++) {
        const key = tokens.slice(i - c, i).join(',');
        let row = this.next.get(key);
        if (!row) this.next.set(key, (row = new Map()));
        row.set(tokens[i]!, (row.get(tokens[i]!) ?? 0) + 1);
        this.total.set(key, (this.total.get(key) ?? 0) + 1);
      }
    }
  }

  /** count(context, t) / count(context), or −1 when the context was never seen (the reference's convention). */
  prob(context: readonly number[], t: number): number {
    const key = context.join(',');
    const total = this.total.get(key);
    if (!total) return -1;
    return (this.next.get(key)!.get(t) ?? 0) / total;
  }
}

interface Beam {
  tokens: number[];
  score: number;
}

export interface SuperposedSettings {
  drafts: number;
  nTokenSample: number;
  alpha: number;
  temp: number;
  iWeights: number[];
  penalty: number;
}

/**
 * The reference's interpolated n-gram probability of `t` after `seq` (context lengths 1..5), plus
 * the weight the interpolation leaves over (1 − Σ weights) on the uniform distribution: counts
 * from a short context miss most plausible tokens, which would otherwise get log 0.
 */
function ngramProb(ngrams: NgramCounts, seq: readonly number[], t: number, weights: readonly number[], vocab: number): number {
  let p = Math.max(0, 1 - weights.reduce((a, b) => a + b, 0)) / vocab;
  weights.forEach((w, i) => {
    const c = i + 1;
    if (seq.length < c) return;
    const pr = ngrams.prob(seq.slice(seq.length - c), t);
    if (pr >= 0) p += w * pr;
  });
  return p;
}

/** Top `n` tokens of softmax(logits / temp), renormalised. */
function topTokens(logits: Float32Array, offset: number, vocab: number, temp: number, n: number): { token: number; p: number }[] {
  const probs = softmaxRow(logits, offset, vocab, temp);
  const order = Array.from({ length: vocab }, (_, v) => v).sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, n);
  const sum = order.reduce((s, v) => s + probs[v]!, 0);
  return order.map((v) => ({ token: v, p: probs[v]! / sum }));
}

function createSuperposed(params: ParamValuesOf<typeof SUPERPOSED_PARAMS>): Omit<AutoregressiveStrategy, 'name'> & { readonly lastDrafts: number[][] } {
  const s: SuperposedSettings = {
    drafts: params.drafts,
    nTokenSample: params.n_token_sample,
    alpha: params.alpha,
    temp: params.temp,
    iWeights: [0.01, 0.04, 0.15, 0.18, 0.12],
    penalty: 200,
  };
  let lastDrafts: number[][] = [];
  return {
    get lastDrafts() {
      return lastDrafts;
    },
    async step(session: ArSession) {
      const model = session.model;
      if (!acceptsEmbeddings(model)) {
        throw new OptionError('superposed: the model\'s graph does not take input embeddings (inputs_embeds), which Superposed Decoding feeds; compile the model with paradec (compileModel) to get one');
      }
      const V = model.vocabSize;
      const eos = model.eosTokenIds;
      const context = [...session.tokens];
      const ngrams = new NgramCounts(s.iWeights.length);
      ngrams.addSequence(context);
      const maxNew = session.remaining;
      const prefill = await session.score([], { logits: true });
      let cache = prefill.cache;
      let logits = prefill.head.logits!;
      let offset = prefill.first * V;
      let alive: Beam[] = [{ tokens: [], score: 0 }];
      let finished: Beam[] = [];
      for (let step = 0; step < maxNew; step++) {
        const lm = topTokens(logits, offset, V, s.temp, s.nTokenSample);
        const cands: { beam: Beam; token: number; score: number }[] = [];
        for (const beam of alive) {
          const seq = [...context, ...beam.tokens];
          const scored = lm.map(({ token, p }) => {
            const pn = ngramProb(ngrams, seq, token, s.iWeights, V);
            return { token, llm: Math.log(p), mixed: (1 - s.alpha) * Math.log(p) + s.alpha * Math.log(pn) };
          });
          const noneInterpolated = scored.every((x) => x.mixed === -Infinity);
          for (const x of scored) {
            const lp = noneInterpolated ? (1 - s.alpha) * x.llm - s.penalty : x.mixed;
            if (lp > -Infinity) cands.push({ beam, token: x.token, score: beam.score + lp });
          }
        }
        cands.sort((a, b) => b.score - a.score);
        const top = cands.slice(0, 2 * s.drafts);
        const grown = top.map((c) => ({ tokens: [...c.beam.tokens, c.token], score: c.score }));
        finished = [...finished, ...grown.filter((b) => eos.includes(b.tokens[b.tokens.length - 1]!))].sort((a, b) => b.score - a.score).slice(0, s.drafts);
        alive = grown.filter((b) => !eos.includes(b.tokens[b.tokens.length - 1]!)).slice(0, s.drafts);
        // scores only fall: once the best finished draft beats every alive one, it is final
        if (alive.length === 0 || (finished.length > 0 && finished[0]!.score >= alive[0]!.score) || step === maxNew - 1) break;
        // the superposed input: Σ_d w_d · E[last token of d], w = normalised draft probabilities
        const top0 = alive[0]!.score;
        const weights = alive.map((b) => Math.exp(b.score - top0));
        const wsum = weights.reduce((a, b) => a + b, 0);
        const H = model.hiddenSize;
        const rows = model.embed(alive.map((b) => b.tokens[b.tokens.length - 1]!));
        const input = new Float32Array(H);
        alive.forEach((_, d) => {
          const w = weights[d]! / wsum;
          for (let h = 0; h < H; h++) input[h] = input[h]! + w * rows[d * H + h]!;
        });
        const out = await model.forwardEmbeddings(input, 1, 1, cache, { logits: true });
        session.nfe += 1;
        cache = out.cache;
        logits = out.head.logits!;
        offset = 0;
      }
      const pool = finished.length > 0 ? finished : alive;
      lastDrafts = [...finished, ...alive].sort((a, b) => b.score - a.score).slice(0, s.drafts).map((b) => b.tokens);
      const best = pool[0]?.tokens ?? [];
      const tokens = best.length > 0 ? best : [prefill.head.topkIds[prefill.first * prefill.head.k]!];
      session.commit(tokens, model.emptyCache(1));
      return { tokens, drafted: 0, accepted: 0 };
    },
  };
}

const SUPERPOSED_PARAMS = paramSpecs({
  drafts: { type: 'int', default: 3, min: 1, max: 64, description: 'drafts kept (k)' },
  n_token_sample: { type: 'int', default: 9, min: 1, max: 1024, description: 'top tokens of the model considered per step' },
  alpha: { type: 'number', default: 0.54, min: 0, max: 1, description: 'weight of the n-gram log-probability' },
  temp: { type: 'number', default: 0.06, min: 0.001, description: 'softmax temperature of the model\'s distribution' },
});

export const superposed = defineAutoregressiveStrategy({
  name: 'superposed',
  summary: 'k drafts from one forward per token by feeding a superposition of the drafts\' token embeddings, rescored with n-grams',
  paper: 'Shen et al. 2024, Superposed Decoding: Multiple Generations from a Single Autoregressive Inference Pass (code: RAIVNLab/SuperposedDecoding)',
  params: SUPERPOSED_PARAMS,
  create: createSuperposed,
});
