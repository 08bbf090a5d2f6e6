/**
 * Batched rollouts: continue several candidate rows from one shared context, one batched forward
 * per token for all rows (CNTP's trials, AdaDec's lookahead). Each row starts from its own first
 * token and stops on its own; finished rows are fed their last token again until every row is
 * done (those positions are never read, and a commit truncates the cache before them).
 */
import type { CausalModel, DecodeHeadOutput, KvCache } from '../../runtime/types.js';
import { replicateCache } from './kv.js';

export interface RolloutStep {
  token: number;
  /** the log-probability the caller scores the token with (AdaDec: the model's, temperature 1; CNTP: the sampler's) */
  logp: number;
}

export interface RolloutResult {
  /** tokens of each row, its first token included */
  tokens: number[][];
  /** log-probabilities of those tokens (the first token's as given) */
  logp: number[][];
  /** [rows] cache over the context and every fed token */
  cache: KvCache;
  forwards: number;
}

export interface RolloutOptions {
  /** most tokens per row (the first included) */
  maxLength: number;
  /** fetch full logits for `next` */
  logits: boolean;
  /** the next token of row `row` from head position `row` */
  next(head: DecodeHeadOutput, row: number): RolloutStep;
  /** whether row `row` ends after `token` (it is kept) */
  stop(token: number, row: number, length: number): boolean;
}

/**
 * `context` is a one-row cache covering the whole context (e.g. the cache of `session.score()`,
 * which extends over the pending tokens).
 */
export async function rollout(model: CausalModel, context: KvCache, first: readonly RolloutStep[], options: RolloutOptions): Promise<RolloutResult> {
  const rows = first.length;
  const tokens = first.map((f) => [f.token]);
  const logp = first.map((f) => [f.logp]);
  const done = first.map((f, r) => options.maxLength <= 1 || options.stop(f.token, r, 1));
  let cache = replicateCache(context, rows);
  let forwards = 0;
  while (done.some((d) => !d)) {
    const feed = Int32Array.from(tokens.map((t) => t[t.length - 1]!));
    const out = await model.forward(feed, rows, 1, cache, { logits: options.logits });
    forwards += 1;
    cache = out.cache;
    for (let r = 0; r < rows; r++) {
      if (done[r]) continue;
      const s = options.next(out.head, r);
      tokens[r]!.push(s.token);
      logp[r]!.push(s.logp);
      if (tokens[r]!.length >= options.maxLength || options.stop(s.token, r, tokens[r]!.length)) done[r] = true;
    }
  }
  return { tokens, logp, cache, forwards };
}
