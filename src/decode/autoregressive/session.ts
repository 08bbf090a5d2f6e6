/**
 * One autoregressive generation in progress: the tokens so far, the target's KV cache, the
 * forward-pass count, and the sampler.
 *
 * Invariant: the cache holds the keys/values of every token but the last `pending` ones, so the
 * next forward feeds the pending tokens (the whole prompt at first, then the last committed
 * token) followed by any draft tokens, and its first prediction is the next token's.
 *
 * Draft-and-verify strategies use `score(drafts)` (one draft path) or `scoreRows(paths)` (several
 * paths as the rows of one batched forward: batched / multi-path verification), then `commit`
 * the accepted tokens with the extended cache; `commit` truncates the cache to the accepted
 * length, which is the KV rollback.
 */
import type { CausalModel, DecodeHeadOutput, KvCache } from '../../runtime/types.js';
import type { RandomSource } from '../diffusion/types.js';
import { NO_EXTRA_MODELS, type ExtraModels } from './extra-models.js';
import { replicateCache, selectRow } from './kv.js';
import { drawCategorical, samplingDistribution, type SamplingOptions } from './sampling.js';
import { countingCausal, countingExtraModels, runningWork, type WorkCounts } from './work.js';

export interface ScoredDrafts {
  head: DecodeHeadOutput;
  /** head position holding the prediction for the token after the last committed one */
  first: number;
  /** the cache extended over pending + draft tokens (truncate on commit) */
  cache: KvCache;
}

/** A batched verification: row r of the head/cache holds pending + paths[r] (padded). */
export interface ScoredRows {
  head: DecodeHeadOutput;
  /** positions per row in the head */
  width: number;
  /** within a row, the position predicting the token after the last committed one */
  first: number;
  /** [rows] cache extended over pending + each row's (padded) path */
  cache: KvCache;
}

/** Counters of a draft-and-verify run (reported by the loop). */
export interface DraftStats {
  /** target forwards that verified at least one draft token */
  verifies: number;
  /** forward passes of draft models (draft LM, layer-skip drafter, diffusion drafter, safe model) */
  draftForwards: number;
}

export class ArSession {
  readonly tokens: number[];
  readonly promptLength: number;
  cache: KvCache;
  nfe = 0;
  /** the loop stops at this many tokens (prompt + generated); strategies size their drafts by it */
  maxLength = Number.POSITIVE_INFINITY;
  readonly stats: DraftStats = { verifies: 0, draftForwards: 0 };
  /** positions fed to the target and to the draft models so far (work.ts) */
  readonly work: WorkCounts = { target: 0, draft: 0 };
  /** the target, as a view that counts the positions of its forwards into `work.target` */
  readonly model: CausalModel;
  private extra: ExtraModels = NO_EXTRA_MODELS;

  constructor(
    model: CausalModel,
    prompt: readonly number[],
    readonly sampling: SamplingOptions,
    readonly rng: RandomSource,
  ) {
    this.model = countingCausal(model, (positions) => (this.work.target += positions));
    this.tokens = [...prompt];
    this.promptLength = prompt.length;
    this.cache = model.emptyCache(1);
  }

  /**
   * The extra models and tokenizer text the caller gave (draft models, drafters, …); every model
   * they hand out counts its positions as draft work (of the generation whose step runs it).
   */
  get models(): ExtraModels {
    return this.extra;
  }

  set models(given: ExtraModels) {
    this.extra = countingExtraModels(given, (positions) => (runningWork(this.work).draft += positions));
  }

  get generated(): number[] {
    return this.tokens.slice(this.promptLength);
  }

  /** true when decoding greedily (temperature 0) */
  get greedy(): boolean {
    return this.sampling.temperature <= 0;
  }

  /** tokens still to generate before the length limit */
  get remaining(): number {
    return Math.min(this.maxLength, this.model.maxPositions) - this.tokens.length;
  }

  /**
   * How many draft tokens one verify forward may carry now: the accepted drafts plus the target's
   * own next token never pass the length limit, and the forward stays inside the context.
   */
  draftRoom(): number {
    return Math.max(0, this.remaining - 1);
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

  /**
   * One batched target forward (one NFE): row r feeds the pending tokens plus `paths[r]`, on a
   * copy of the cache per row. Shorter paths are padded by repeating their last token; a padded
   * position only influences positions after it, which are never read.
   */
  async scoreRows(paths: readonly (readonly number[])[], options: { logits?: boolean } = {}): Promise<ScoredRows> {
    const pending = this.tokens.slice(this.cache.length);
    const rows = paths.length;
    const longest = Math.max(0, ...paths.map((p) => p.length));
    const width = pending.length + longest;
    const feed = new Int32Array(rows * width);
    paths.forEach((path, r) => {
      const row = [...pending, ...path];
      const pad = row[row.length - 1]!;
      for (let j = 0; j < width; j++) feed[r * width + j] = j < row.length ? row[j]! : pad;
    });
    const { head, cache } = await this.model.forward(feed, rows, width, replicateCache(this.cache, rows), {
      logits: options.logits ?? this.sampling.temperature > 0,
    });
    this.nfe += 1;
    return { head, width, first: pending.length - 1, cache };
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

  /**
   * Append committed tokens; keep the cache for all but the last token. The session owns its
   * caches: the one it replaces (and an extended one it cut) is released at once.
   */
  commit(tokens: readonly number[], extended: KvCache): void {
    this.tokens.push(...tokens);
    const keep = Math.min(extended.length, this.tokens.length - 1);
    const previous = this.cache;
    // nothing to roll back: keep the cache object itself (a runtime may hold it resident)
    this.cache = keep === extended.length ? extended : this.model.truncateCache(extended, keep);
    if (previous !== this.cache && previous !== extended) this.model.releaseCache?.(previous);
    if (extended !== this.cache) this.model.releaseCache?.(extended);
  }

  /** The generation is over: free the cache (the session is not used afterwards). */
  close(): void {
    this.model.releaseCache?.(this.cache);
    this.cache = this.model.emptyCache(1);
  }

  /** Commit tokens verified on row `row` of a batched forward. */
  commitRow(tokens: readonly number[], scored: ScoredRows, row: number): void {
    const selected = selectRow(scored.cache, row);
    this.commit(tokens, selected);
    if (selected !== scored.cache) this.model.releaseCache?.(scored.cache);
  }
}
