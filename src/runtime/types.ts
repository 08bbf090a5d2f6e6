/**
 * What decoding code sees of a model: a forward pass that returns the decode head's outputs.
 * The real implementation runs compiled ONNX graphs; tests implement the same interfaces with
 * scripted models whose logits they control.
 */

/** Per-position outputs of the decode head computed inside the graph. */
export interface DecodeHeadOutput {
  batch: number;
  /** number of positions returned per row */
  length: number;
  /** k of the top-k (compile-time constant of the graph) */
  k: number;
  /** [batch, length, k] token ids, most probable first */
  topkIds: Int32Array;
  /** [batch, length, k] softmax probabilities of those ids (temperature 1) */
  topkProbs: Float32Array;
  /** [batch, length] entropy of the softmax, in nats */
  entropy: Float32Array;
  /** [batch, length, vocab] raw logits; present only when requested */
  logits?: Float32Array;
  vocabSize: number;
}

export interface ForwardOptions {
  /** fetch full logits too (needed for temperature sampling or strategies that ask) */
  logits?: boolean;
}

/** A bidirectional (masked-diffusion) model: every position sees every position. */
export interface BidirectionalModel {
  readonly kind: 'bidirectional';
  readonly vocabSize: number;
  readonly maskTokenId: number;
  readonly maxPositions: number;
  /**
   * tokens: [batch, length] row-major. attentionMask (optional): [batch, length], 1 = real
   * token, 0 = padding (padding positions are neither attended to nor meaningful in the output).
   * For Dream-style models the returned position i already holds the prediction for token i.
   */
  forward(tokens: Int32Array, batch: number, length: number, options?: ForwardOptions & { attentionMask?: Uint8Array }): Promise<DecodeHeadOutput>;
}

/**
 * Keys and values of a bidirectional model for a batch of canvases, [batch, kvHeads, length,
 * headDim] per layer, post-RoPE (each position's own rotation applied). Opaque: they live where
 * the model computes (an ONNX model keeps them in its session worker).
 */
export interface BidirectionalKv {
  readonly batch: number;
  readonly length: number;
}

/** One windowed forward: `window` positions per row computed against cached keys/values. */
export interface WindowForwardInput {
  batch: number;
  window: number;
  /** [batch, window] tokens of the computed positions */
  tokens: Int32Array;
  /** [batch, window] their positions (RoPE); padding slots may hold anything in range */
  positions: Int32Array;
  /** cached keys/values of the batch's rows, in order ([batch, …, past, …]); null: no past */
  cache: BidirectionalKv | null;
  /**
   * [batch, past + window] which keys each row attends to: cached positions first, then the
   * window's own (1 = attend). Cached entries of positions being recomputed, of padding and of
   * pruned positions are 0, and so are padding slots of the window.
   */
  keyMask: Uint8Array;
}

/** How to build a new cache from an old one and fresh keys/values (all positions absolute). */
export interface KvComposeSpec {
  /** output [batch, …, length, …] */
  batch: number;
  length: number;
  /** per output row: the base row it starts from (-1: zeros) */
  rowMap: Int32Array;
  /** the base is used up (updated in place when the rows are unchanged); it must not be used again */
  consume: boolean;
  writes: readonly {
    kv: BidirectionalKv;
    /** per source row: the output row (-1: skipped) */
    targetRows: Int32Array;
    /** per source row and source position: the output position (-1: skipped) */
    positions: Int32Array;
  }[];
  /** caches released after the composition (typically the write sources) */
  release?: readonly BidirectionalKv[];
}

/**
 * A bidirectional model that can cache keys/values between denoising steps (see
 * src/decode/diffusion/cache.ts and docs/caching.md).
 */
export interface CachingBidirectionalModel extends BidirectionalModel {
  /**
   * For Dream-style models: `forward` shifts logits, `forwardWindow` does not (the window slot of
   * position p predicts position p + 1).
   */
  readonly shiftsLogits: boolean;
  /** `forward` (same graph, same outputs, bit for bit) that also returns every position's keys/values */
  forwardWithKv(tokens: Int32Array, batch: number, length: number, options?: ForwardOptions & { attentionMask?: Uint8Array }): Promise<{ head: DecodeHeadOutput; kv: BidirectionalKv }>;
  /** compute a window of positions per row; head rows are [batch, window], `fresh` the window's keys/values */
  forwardWindow(input: WindowForwardInput, options?: ForwardOptions): Promise<{ head: DecodeHeadOutput; fresh: BidirectionalKv }>;
  /** a new cache from `base` (or zeros) and fresh keys/values */
  composeKv(base: BidirectionalKv | null, spec: KvComposeSpec): BidirectionalKv;
  /** free caches the caller is done with */
  releaseKv(kvs: readonly BidirectionalKv[]): void;
}

export function supportsKvCache(model: BidirectionalModel): model is CachingBidirectionalModel {
  const m = model as Partial<CachingBidirectionalModel>;
  return typeof m.forwardWithKv === 'function' && typeof m.forwardWindow === 'function' && typeof m.composeKv === 'function';
}

/** Keys and values of a causal model for a batch, [batch, kvHeads, length, headDim] per layer. */
export interface KvCache {
  readonly batch: number;
  readonly length: number;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

/** A causal model with a KV cache. */
export interface CausalModel {
  readonly kind: 'causal';
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  readonly eosTokenIds: readonly number[];
  /** A cache of length 0 for `batch` rows. */
  emptyCache(batch: number): KvCache;
  /**
   * Append `newLength` tokens per row after the cache. Returns head outputs for the new
   * positions (position j predicts the token after new token j) and the extended cache.
   * The input cache is not modified.
   */
  forward(tokens: Int32Array, batch: number, newLength: number, cache: KvCache, options?: ForwardOptions): Promise<{ head: DecodeHeadOutput; cache: KvCache }>;
  /** The first `length` positions of a cache (KV rollback after rejected drafts). */
  truncateCache(cache: KvCache, length: number): KvCache;
  /**
   * Only models whose forwards run off the calling thread (a session worker) have it: whether a
   * forward is still computing, polled synchronously. A strategy may do other work on the calling
   * thread meanwhile (PEARL drafts while the target verifies) and stop as soon as it says false.
   */
  busy?(): boolean;
  /**
   * With `busy`: how many CPU cores a forward keeps busy while it runs off the calling thread,
   * when known (an ORT session on the CPU: its intra-op threads). Work run beside a forward only
   * overlaps it if a core is left over (PEARL checks before drafting concurrently).
   */
  readonly cpuThreads?: number;
  /**
   * The caller is done with `cache` (it replaced it by a longer or shorter one). A runtime that
   * keeps caches elsewhere (a session worker) frees them now instead of when the handle is
   * garbage-collected; using the cache afterwards is an error. Optional: plain-array caches are
   * ordinary garbage.
   */
  releaseCache?(cache: KvCache): void;
}

export type AnyModel = BidirectionalModel | CausalModel;

/**
 * A causal model that verifies a token tree in one forward (tree attention): several draft paths
 * packed in one sequence, each node attending to the cached past and its ancestors.
 */
export interface TreeCausalModel extends CausalModel {
  /** false when the methods exist but the model cannot run them (e.g. a foreign export) */
  readonly acceptsTree?: boolean;
  /**
   * tokens/positions [batch, n], treeMask [batch, n, n] (1: node i attends to node j); returns
   * the head for every node and the cache extended by the n nodes in packed order
   */
  forwardTree(tokens: Int32Array, positions: Int32Array, treeMask: Uint8Array, cache: KvCache, options?: ForwardOptions): Promise<{ head: DecodeHeadOutput; cache: KvCache }>;
  /** the cache's first `past` positions followed by tree nodes `nodes` (a path, root first) */
  compactTree(cache: KvCache, past: number, nodes: readonly number[]): KvCache;
}

export function supportsTree(model: CausalModel): model is TreeCausalModel {
  const m = model as Partial<TreeCausalModel>;
  return typeof m.forwardTree === 'function' && typeof m.compactTree === 'function' && m.acceptsTree !== false;
}
