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
}

export type AnyModel = BidirectionalModel | CausalModel;
