/**
 * An autoregressive draft model with its own KV cache: proposes tokens after a context, one
 * forward per token, and stays in sync with the target's committed tokens by keeping only the
 * part of its cache that still agrees with them (its own KV rollback).
 *
 * Draft length knobs (HF transformers' assisted generation, `generation/configuration_utils.py`):
 * the draft stops early when the probability of the token it just proposed is below
 * `minConfidence` (HF `assistant_confidence_threshold`, default 0.4), and `DraftLength` adapts the
 * number of tokens per round (HF `num_assistant_tokens_schedule="heuristic"`: +2 after a round in
 * which every drafted token was accepted, also when the draft stopped before γ, −1 (floor 1) after
 * a rejection).
 */
import type { CausalModel, DecodeHeadOutput, KvCache } from '../../runtime/types.js';
import { replicateCache } from './kv.js';
import type { RandomSource } from '../diffusion/types.js';
import { drawCategorical, samplingDistribution, type SamplingOptions } from './sampling.js';
import type { Draft } from './verify.js';

export interface ProposeOptions {
  /** the sampler drafts are drawn with (argmax when greedy or when `probabilities` is off) */
  sampling: SamplingOptions;
  rng: RandomSource;
  /** return q (the distribution each token was drawn from) and sample from it */
  probabilities: boolean;
  /** stop after a token whose draft probability is below this (0 = never) */
  minConfidence: number;
  /** end-of-text ids: drafting stops after proposing one */
  eosTokenIds?: readonly number[];
  /**
   * checked before each draft forward: drafting stops when it returns false (PEARL drafts for as
   * long as the target's forward is still running)
   */
  until?: () => boolean;
}

export interface Proposal extends Draft {
  /** the draft's probability of each proposed token */
  confidence: number[];
  /** draft forwards spent */
  forwards: number;
}

/** Several draft paths from one context (multi-path drafting). */
export interface PathProposal {
  paths: number[][];
  /** q[r][i]: the distribution paths[r][i] was drawn from (when asked for) */
  q?: Float64Array[][];
  forwards: number;
}

export interface PathOptions extends Omit<ProposeOptions, 'minConfidence' | 'until'> {
  /**
   * how the paths differ: 'sample' draws every path i.i.d. from the draft (what lossless
   * multi-path sampling needs); 'topk' starts path r with the draft's r-th most likely token and
   * continues greedily (the deterministic tree used at temperature 0)
   */
  branching: 'sample' | 'topk';
}

export class DraftRunner {
  private cache: KvCache;
  /** the tokens whose keys/values `cache` holds */
  private cached: number[] = [];

  constructor(readonly model: CausalModel) {
    this.cache = model.emptyCache(1);
  }

  /** Replace the cache, releasing the old one (a worker-backed draft keeps caches in its worker). */
  private replace(next: KvCache): void {
    if (next !== this.cache) this.model.releaseCache?.(this.cache);
    this.cache = next;
  }

  /** Forget everything (a new generation). */
  reset(): void {
    this.replace(this.model.emptyCache(1));
    this.cached = [];
  }

  /** Keep the cache prefix that agrees with `context`, leaving at least its last token to feed. */
  private sync(context: readonly number[]): void {
    let n = 0;
    const limit = Math.min(this.cached.length, context.length - 1);
    while (n < limit && this.cached[n] === context[n]) n++;
    if (n < this.cache.length) {
      this.replace(this.model.truncateCache(this.cache, n));
      this.cached.length = n;
    }
  }

  /** The model's raw next-token logits after `context` (one forward over what the cache lacks). */
  async logitsAfter(context: readonly number[]): Promise<Float32Array> {
    this.sync(context);
    const feed = context.slice(this.cache.length);
    const { head, cache } = await this.model.forward(Int32Array.from(feed), 1, feed.length, this.cache, { logits: true });
    this.replace(cache);
    this.cached.push(...feed);
    const V = this.model.vocabSize;
    return head.logits!.slice((feed.length - 1) * V, feed.length * V);
  }

  /** Propose up to `n` tokens after `context` (stops early at low confidence or end-of-text). */
  async propose(context: readonly number[], n: number, options: ProposeOptions): Promise<Proposal> {
    const out: Proposal = { tokens: [], confidence: [], forwards: 0 };
    if (n <= 0) return out;
    n = Math.min(n, this.model.maxPositions - context.length);
    if (n <= 0) return out;
    if (options.probabilities) out.q = [];
    this.sync(context);
    let feed = context.slice(this.cache.length);
    const V = this.model.vocabSize;
    for (let i = 0; i < n; i++) {
      if (options.until && !options.until()) break;
      const { head, cache } = await this.model.forward(Int32Array.from(feed), 1, feed.length, this.cache, { logits: options.probabilities });
      out.forwards += 1;
      this.replace(cache);
      this.cached.push(...feed);
      const pos = feed.length - 1;
      let token: number;
      let confidence: number;
      if (options.probabilities) {
        const q = samplingDistribution(head.logits!, pos * V, V, options.sampling);
        token = options.sampling.temperature > 0 ? drawCategorical(q, options.rng) : argmax(q);
        confidence = q[token]!;
        out.q!.push(q);
      } else {
        token = head.topkIds[pos * head.k]!;
        confidence = head.topkProbs[pos * head.k]!;
      }
      out.tokens.push(token);
      out.confidence.push(confidence);
      feed = [token];
      if (options.eosTokenIds?.includes(token)) break;
      if (confidence < options.minConfidence) break;
    }
    return out;
  }

  /** `paths` draft paths of up to `length` tokens after `context`, drafted as the rows of batched forwards. */
  async proposePaths(context: readonly number[], paths: number, length: number, options: PathOptions): Promise<PathProposal> {
    const model = this.model;
    length = Math.min(length, model.maxPositions - context.length);
    const out: PathProposal = { paths: [], forwards: 0 };
    if (length <= 0 || paths <= 0) return out;
    const V = model.vocabSize;
    const probabilities = options.probabilities;
    if (probabilities) out.q = [];
    // advance the one-row cache over the whole context (shared by every path)
    this.sync(context);
    const pending = context.slice(this.cache.length);
    const first = await model.forward(Int32Array.from(pending), 1, pending.length, this.cache, { logits: probabilities });
    out.forwards += 1;
    this.replace(first.cache);
    this.cached.push(...pending);
    const lastPos = pending.length - 1;
    const pick = (head: DecodeHeadOutput, pos: number): { token: number; q?: Float64Array } => {
      if (!probabilities) return { token: head.topkIds[pos * head.k]! };
      const q = samplingDistribution(head.logits!, pos * V, V, options.sampling);
      return { token: options.sampling.temperature > 0 ? drawCategorical(q, options.rng) : argmax(q), q };
    };
    if (options.branching === 'topk' && !probabilities) {
      const k = Math.min(paths, first.head.k);
      for (let r = 0; r < k; r++) out.paths.push([first.head.topkIds[lastPos * first.head.k + r]!]);
    } else {
      for (let r = 0; r < paths; r++) {
        const c = pick(first.head, lastPos);
        out.paths.push([c.token]);
        if (c.q) out.q!.push([c.q]);
      }
    }
    const rows = out.paths.length;
    const done = out.paths.map((p) => options.eosTokenIds?.includes(p[0]!) ?? false);
    let cache = replicateCache(this.cache, rows);
    for (let i = 1; i < length && done.some((d) => !d); i++) {
      const feed = Int32Array.from(out.paths.map((p) => p[p.length - 1]!));
      const step = await model.forward(feed, rows, 1, cache, { logits: probabilities });
      out.forwards += 1;
      if (cache !== this.cache) model.releaseCache?.(cache); // (one path: the replica is the runner's own cache)
      cache = step.cache;
      for (let r = 0; r < rows; r++) {
        if (done[r]) continue;
        const c = pick(step.head, r);
        out.paths[r]!.push(c.token);
        if (c.q) out.q![r]!.push(c.q);
        if (options.eosTokenIds?.includes(c.token)) done[r] = true;
      }
    }
    if (cache !== this.cache) model.releaseCache?.(cache);
    return out;
  }
}

function argmax(p: Float64Array): number {
  let best = 0;
  for (let v = 1; v < p.length; v++) if (p[v]! > p[best]!) best = v;
  return best;
}

/**
 * HF's "heuristic" draft-length schedule (or a constant one), as current transformers'
 * `AssistedCandidateGenerator.update_candidate_strategy`: +2 when every drafted token was accepted
 * (`num_matches == len(scores[0]) - 1`, the tokens actually drafted, so a draft cut short by its
 * confidence stop or by end-of-text and accepted whole also grows γ), else −1 (floor 1). `max`
 * is paradec's cap (HF has none).
 */
export class DraftLength {
  private value: number;
  constructor(
    private readonly initial: number,
    private readonly schedule: 'heuristic' | 'constant',
    private readonly max: number,
  ) {
    this.value = initial;
  }

  get current(): number {
    return Math.max(1, Math.min(this.max, Math.floor(this.value)));
  }

  reset(): void {
    this.value = this.initial;
  }

  /** After a round that drafted `drafted` tokens and kept `accepted` of them. */
  update(drafted: number, accepted: number): void {
    if (this.schedule === 'constant') return;
    if (accepted < drafted) this.value = Math.max(1, this.value - 1);
    else this.value = Math.min(this.max, this.value + 2);
  }
}
