/**
 * One autoregressive generation in progress: the tokens so far, the target's KV cache, the
 * forward-pass count, and the sampler.
 *
 * Invariant: the cache holds the keys/values of every token but the last `pending` ones, so the
 * next forward feeds the pending tokens (the whole prompt at first, then the last committed
 * token) followed by any draft tokens, and its first prediction is the next token's.
 */
import type { CausalModel, DecodeHeadOutput, KvCache } from '../../runtime/types.js';
import type { RandomSource } from '../diffusion/types.js';
import { drawCategorical, samplingDistribution, type SamplingOptions } from './sampling.js';

export interface ScoredDrafts {
  head: DecodeHeadOutput;
  /** head position holding the prediction for the token after the last committed one */
  first: number;
  /** the cache extended over pending + draft tokens (truncate on commit) */
  cache: KvCache;
}

export class ArSession {
  readonly tokens: number[];
  readonly promptLength: number;
  cache: KvCache;
  nfe = 0;

  constructor(
    readonly model: CausalModel,
    prompt: readonly number[],
    readonly sampling: SamplingOptions,
    readonly rng: RandomSource,
  ) {
    this.tokens = [...prompt];
    this.promptLength = prompt.length;
    this.cache = model.emptyCache(1);
  }

  get generated(): number[] {
    return this.tokens.slice(this.promptLength);
  }

  /** One target forward over the pending tokens plus `drafts` (counts one NFE). */
  async score(drafts: readonly number[] = [], options: { logits?: boolean } = {}): Promise<ScoredDrafts> {
    const pending = this.tokens.slice(this.cache.length);
    const feed = Int32Array.from([...pending, ...drafts]);
    const { head, cache } = await this.model.forward(feed, 1, feed.length, this.cache, {
      logits: options.logits ?? this.sampling.temperature > 0,
    });
    this.nfe += 1;
    return { head, first: pending.length - 1, cache };
  }

  /** The next token at head position `pos` under the session's sampler. */
  choose(head: DecodeHeadOutput, pos: number): number {
    if (this.sampling.temperature <= 0 || !head.logits) return head.topkIds[pos * head.k]!;
    return drawCategorical(this.distribution(head, pos), this.rng);
  }

  /** The sampler's distribution at head position `pos` (needs logits). */
  distribution(head: DecodeHeadOutput, pos: number): Float64Array {
    return samplingDistribution(head.logits!, pos * head.vocabSize, head.vocabSize, this.sampling);
  }

  /** Append committed tokens; keep the cache for all but the last token. */
  commit(tokens: readonly number[], extended: KvCache): void {
    this.tokens.push(...tokens);
    this.cache = this.model.truncateCache(extended, Math.min(extended.length, this.tokens.length - 1));
  }
}
