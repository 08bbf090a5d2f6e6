/**
 * CausalModel on top of an ONNX graph running in a worker session: a graph paradec compiled
 * (llama, qwen2, qwen3; `compileModel` in compile-model.ts) or an existing decoder export
 * (`loadOnnxCausalModel` in onnx-export.ts).
 *
 * What crosses into JavaScript per forward: the decode head ([b, s, k] ids and probabilities, [b, s]
 * entropies). Full-vocabulary logits only when a caller asks for them. KV caches stay in the
 * session worker (ResidentKvCache): feeding a cache back, or truncating it, moves no bytes
 * between threads; its arrays are handed over only if someone reads them.
 */
import { InputError, OptionError } from '../errors.js';
import { HEAD_OUTPUTS, type CompiledGraph } from './compile.js';
import { checkPositions, checkTokens, HEAD_FETCHES, ids64, keepAll, mask64, positionIds, presentNames, toHead, type ForwardTiming } from './forward-io.js';
import { emptyPlainCache, truncatePlainCache } from './plain-kv-cache.js';
import { ResidentKvCache } from './resident-kv-cache.js';
import { headRows } from './head-rows.js';
import type { OrtSession, ResidentTensor, WireTensor } from './session.js';
import type { CausalModel, DecodeHeadOutput, ForwardOptions, KvCache } from './types.js';

/** What a causal model needs to know about its graph beyond the session. */
export interface CausalSpec {
  vocabSize: number;
  maxPositions: number;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  eosTokenIds: readonly number[];
  topK: number;
  /** graph input names present (position_ids and use_cache_branch are optional in exports) */
  inputs: ReadonlySet<string>;
  /** hidden size (needed by the embeddings variant) */
  hiddenSize?: number;
}

/** The causal graph variants a compiled model can load next to its own graph (same worker). */
export type CausalVariant = 'embeds' | 'tree';

/**
 * What a compiled causal model needs to offer its variants: how to compile each (loaded into the
 * model's session worker on first use, so caches flow between graphs without leaving it) and the
 * input embedding table.
 */
export interface CausalVariantSource {
  graph(variant: CausalVariant): CompiledGraph;
  /** the embedding matrix [vocab, hidden] as float32 (read once, on first `embed`) */
  embedTable(): Float32Array;
  /** ORT spinning as the model was opened with */
  spinning?: boolean;
}

/** One entry of `forwardRagged`: what `forward(tokens, batch, newLength, cache)` would take. */
export interface RaggedEntry {
  tokens: Int32Array;
  batch: number;
  newLength: number;
  cache: KvCache;
}

export class OnnxCausalModel implements CausalModel {
  readonly kind = 'causal' as const;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly eosTokenIds: readonly number[];
  readonly topK: number;
  /** width of the input embeddings (0 when unknown: exports) */
  readonly hiddenSize: number;
  /** `forwardEmbeddings` / `embed` work (compiled models) */
  readonly acceptsEmbeddings: boolean;
  /** `forwardTree` / `compactTree` work (compiled models) */
  readonly acceptsTree: boolean;
  lastTiming: ForwardTiming = { wallMs: 0, runMs: 0 };
  private readonly presentNames: string[];
  private readonly variantLoads = new Map<CausalVariant, Promise<void>>();
  private embedding: Float32Array | undefined;

  constructor(private readonly spec: CausalSpec, readonly session: OrtSession, readonly graph?: CompiledGraph, private readonly variants?: CausalVariantSource) {
    this.vocabSize = spec.vocabSize;
    this.maxPositions = spec.maxPositions;
    this.numLayers = spec.numLayers;
    this.numKvHeads = spec.numKvHeads;
    this.headDim = spec.headDim;
    this.eosTokenIds = spec.eosTokenIds;
    this.topK = spec.topK;
    this.hiddenSize = spec.hiddenSize ?? 0;
    this.acceptsEmbeddings = variants !== undefined && this.hiddenSize > 0;
    this.acceptsTree = variants !== undefined;
    this.presentNames = presentNames(spec.numLayers);
  }

  emptyCache(batch: number): KvCache {
    if (!Number.isInteger(batch) || batch < 1) throw new InputError(`emptyCache: batch must be a positive integer, got ${batch}`);
    return emptyPlainCache(batch, this.numLayers);
  }

  /** The cache's tensors if this model's worker holds them (feeding them moves no bytes). */
  private resident(cache: KvCache): ResidentKvCache | undefined {
    if (!(cache instanceof ResidentKvCache)) return undefined;
    const all = cache.tensors;
    return all.length === 2 * this.numLayers && all.every((t) => this.session.holds(t)) ? cache : undefined;
  }

  private checkCache(what: string, cache: KvCache): void {
    if (!Number.isInteger(cache.length) || cache.length < 0) throw new InputError(`${what}: cache length ${cache.length} is not a non-negative integer`);
    const per = cache.batch * this.numKvHeads * cache.length * this.headDim;
    if (cache instanceof ResidentKvCache) {
      const sizes = cache.tensors.map((t) => t.size);
      if (sizes.length !== 2 * this.numLayers || sizes.some((n) => n !== per)) {
        throw new InputError(`${what}: the cache was made by a model with a different shape (${sizes.length / 2} layers)`);
      }
      return;
    }
    const keys = cache.keys ?? [];
    const values = cache.values ?? [];
    if (keys.length !== this.numLayers || values.length !== this.numLayers) {
      throw new InputError(`${what}: cache has ${keys.length} key / ${values.length} value layers, the model ${this.numLayers}`);
    }
    for (let i = 0; i < this.numLayers; i++) {
      if (keys[i]!.length !== per || values[i]!.length !== per) {
        throw new InputError(
          `${what}: cache layer ${i} holds ${keys[i]!.length} keys / ${values[i]!.length} values, expected ${per} for [${cache.batch}, ${this.numKvHeads}, ${cache.length}, ${this.headDim}]`,
        );
      }
    }
  }

  async forward(tokens: Int32Array, batch: number, newLength: number, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    checkTokens('forward', tokens, batch, newLength, this.vocabSize);
    const ids = ids64(tokens);
    return this.run('forward', undefined, { input_ids: { type: 'int64', data: ids, dims: [batch, newLength] } }, [ids.buffer], batch, newLength, cache, options);
  }

  /**
   * Several independent forwards as one batched forward (continuous batching: runtime/
   * batched-causal.ts): entry e appends `newLength` tokens to each of its `batch` rows after its
   * own cache, whose length may differ from the other entries'. The entries' caches are laid out
   * in one batch of the longest past (shorter pasts padded, the padding masked out of attention),
   * their new tokens after it (right-padded), each token at its own logical position; the result
   * of each entry — its head and its extended cache, compacted back to its own past + new — is
   * what `forward` gives it alone, up to float rounding in the attention sums (the keys sit at
   * other physical offsets). Needs caches this model's worker holds (or empty ones).
   */
  async forwardRagged(entries: readonly RaggedEntry[], options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }[]> {
    if (entries.length === 0) return [];
    const H = this.numKvHeads;
    const D = this.headDim;
    for (const e of entries) {
      checkTokens('forwardRagged', e.tokens, e.batch, e.newLength, this.vocabSize);
      if (e.cache.batch !== e.batch) throw new InputError(`forwardRagged: cache is for batch ${e.cache.batch}, the input for batch ${e.batch}`);
      if (e.cache.length > 0 && !this.resident(e.cache)) throw new InputError('forwardRagged: needs caches this model made (resident in its worker) or empty ones');
      if (e.cache.length + e.newLength > this.maxPositions) throw new InputError(`forwardRagged: ${e.cache.length + e.newLength} positions exceed the model's ${this.maxPositions}`);
    }
    const P = Math.max(...entries.map((e) => e.cache.length));
    const N = Math.max(...entries.map((e) => e.newLength));
    const B = entries.reduce((n, e) => n + e.batch, 0);
    const T = P + N;
    const ids = new BigInt64Array(B * N);
    const mask = new BigInt64Array(B * T);
    const positions = new BigInt64Array(B * N);
    const offsets: number[] = [];
    let row = 0;
    for (const e of entries) {
      offsets.push(row);
      const past = e.cache.length;
      for (let b = 0; b < e.batch; b++, row++) {
        for (let j = 0; j < N; j++) {
          const real = j < e.newLength;
          // padding slots repeat the row's last token at its last position: in range, never read
          ids[row * N + j] = BigInt(e.tokens[b * e.newLength + (real ? j : e.newLength - 1)]!);
          positions[row * N + j] = BigInt(past + (real ? j : e.newLength - 1));
          if (real) mask[row * T + P + j] = 1n;
        }
        mask.fill(1n, row * T, row * T + past);
      }
    }
    // the batch's past: every entry's cache in its rows, padded to P
    let past: KvCache;
    let composed: ResidentTensor[] | null = null;
    const writes = entries.flatMap((e, i) => {
      if (e.cache.length === 0) return [];
      const positionsOf = new Int32Array(e.batch * e.cache.length);
      for (let b = 0; b < e.batch; b++) for (let p = 0; p < e.cache.length; p++) positionsOf[b * e.cache.length + p] = p;
      return [{ tensors: this.resident(e.cache)!.tensors, rows: e.batch, length: e.cache.length, targetRows: Int32Array.from({ length: e.batch }, (_, b) => offsets[i]! + b), positions: positionsOf }];
    });
    if (P === 0) past = emptyPlainCache(B, this.numLayers);
    else {
      composed = this.session.compose({ base: null, baseRows: 0, baseLength: 0, rows: B, heads: H, length: P, width: D, rowMap: new Int32Array(B).fill(-1), consume: false, writes });
      past = ResidentKvCache.fromTensors(B, P, composed, this.numLayers);
    }
    let result: { head: DecodeHeadOutput; cache: KvCache };
    try {
      result = await this.run('forwardRagged', undefined, { input_ids: { type: 'int64', data: ids, dims: [B, N] } }, [ids.buffer], B, N, past, options, positions, mask);
    } finally {
      if (composed) this.session.release(composed);
    }
    const present = (result.cache as ResidentKvCache).tensors;
    const out = entries.map((e, i) => {
      const length = e.cache.length + e.newLength;
      const targetRows = new Int32Array(B).fill(-1);
      const map = new Int32Array(B * T).fill(-1);
      for (let b = 0; b < e.batch; b++) {
        const r = offsets[i]! + b;
        targetRows[r] = b;
        for (let p = 0; p < e.cache.length; p++) map[r * T + p] = p;
        for (let j = 0; j < e.newLength; j++) map[r * T + P + j] = e.cache.length + j;
      }
      const tensors = this.session.compose({ base: null, baseRows: 0, baseLength: 0, rows: e.batch, heads: H, length, width: D, rowMap: new Int32Array(e.batch).fill(-1), consume: false, writes: [{ tensors: present, rows: B, length: T, targetRows, positions: map }] });
      return { head: headRows(result.head, offsets[i]!, e.batch, e.newLength, options.logits === true), cache: ResidentKvCache.fromTensors(e.batch, length, tensors, this.numLayers) };
    });
    this.session.release(present);
    return out;
  }

  /**
   * Like `forward`, with input embeddings [batch, newLength, hiddenSize] in place of token ids
   * (a graph variant with an `inputs_embeds` input, compiled and loaded on first use).
   */
  async forwardEmbeddings(embeds: Float32Array, batch: number, newLength: number, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    if (!this.acceptsEmbeddings) throw new OptionError('forwardEmbeddings: this model was not compiled by paradec; only compiled models have an inputs_embeds graph');
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(newLength) || newLength < 1) throw new InputError(`forwardEmbeddings: bad shape ${batch} × ${newLength}`);
    if (embeds.length !== batch * newLength * this.hiddenSize) {
      throw new InputError(`forwardEmbeddings: ${embeds.length} values for [${batch}, ${newLength}, ${this.hiddenSize}]`);
    }
    await this.loadVariant('embeds');
    const data = Float32Array.from(embeds);
    return this.run('forwardEmbeddings', 'embeds', { inputs_embeds: { type: 'float32', data, dims: [batch, newLength, this.hiddenSize] } }, [data.buffer], batch, newLength, cache, options);
  }

  /** Rows of the input embedding table for `ids`: [ids.length, hiddenSize]. */
  embed(ids: readonly number[]): Float32Array {
    if (!this.acceptsEmbeddings) throw new OptionError('embed: this model was not compiled by paradec; its embedding table is not known');
    this.embedding ??= this.variants!.embedTable();
    const H = this.hiddenSize;
    const out = new Float32Array(ids.length * H);
    ids.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new InputError(`embed: token ${t} is outside the vocabulary (0..${this.vocabSize - 1})`);
      out.set(this.embedding!.subarray(t * H, (t + 1) * H), i * H);
    });
    return out;
  }

  /**
   * Tree verification: `tokens` [batch, n] new tokens packed in one sequence per row (a token
   * tree), `positions` [batch, n] their absolute positions (past + depth), `treeMask` [batch, n, n]
   * with treeMask[b, i, j] = 1 iff new token i attends to new token j (its ancestors and itself);
   * every cached position stays visible. Returns the head for every node and the cache extended
   * by all n nodes in packed order (not a linear cache: `compactTree` it before decoding on).
   */
  async forwardTree(tokens: Int32Array, positions: Int32Array, treeMask: Uint8Array, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    if (!this.acceptsTree) throw new OptionError('forwardTree: this model was not compiled by paradec; only compiled models have a tree-mask graph');
    const batch = cache.batch;
    const n = tokens.length / batch;
    checkTokens('forwardTree', tokens, batch, n, this.vocabSize);
    if (positions.length !== batch * n) throw new InputError(`forwardTree: ${positions.length} positions for batch ${batch} × ${n} nodes`);
    if (treeMask.length !== batch * n * n) throw new InputError(`forwardTree: treeMask has ${treeMask.length} entries for batch ${batch} × ${n} × ${n}`);
    checkPositions('forwardTree', positions, this.maxPositions);
    await this.loadVariant('tree');
    const ids = ids64(tokens);
    const mask = mask64(treeMask);
    const pos = ids64(positions);
    return this.run(
      'forwardTree', 'tree',
      { input_ids: { type: 'int64', data: ids, dims: [batch, n] }, tree_mask: { type: 'int64', data: mask, dims: [batch, n, n] } },
      [ids.buffer, mask.buffer], batch, n, cache, options, pos,
    );
  }

  /**
   * The cache of `past` cached positions followed by new tree nodes `nodes` (indices into the
   * nodes of a `forwardTree`, root to leaf of the accepted path), from the cache `forwardTree`
   * returned: what a plain prefill of the accepted prefix would have cached. Every row keeps the
   * same nodes.
   */
  compactTree(cache: KvCache, past: number, nodes: readonly number[]): KvCache {
    this.checkCache('compactTree', cache);
    const n = cache.length - past;
    if (!Number.isInteger(past) || past < 0 || n < 0) throw new InputError(`compactTree: past ${past} is not within the cache's 0..${cache.length}`);
    for (const j of nodes) if (!Number.isInteger(j) || j < 0 || j >= n) throw new InputError(`compactTree: node ${j} is not within the tree's 0..${n - 1}`);
    const length = past + nodes.length;
    // identity: the kept nodes already sit right after the past
    if (nodes.every((j, i) => j === i)) return this.truncateCache(cache, length);
    const rows = cache.batch;
    const resident = this.resident(cache);
    if (resident) {
      const positions = new Int32Array(rows * cache.length).fill(-1);
      for (let r = 0; r < rows; r++) nodes.forEach((j, i) => (positions[r * cache.length + past + j] = past + i));
      const tensors = resident.tensors;
      const out = this.session.compose({
        base: tensors, baseRows: rows, baseLength: cache.length,
        rows, heads: this.numKvHeads, length, width: this.headDim,
        rowMap: Int32Array.from({ length: rows }, (_, r) => r),
        consume: false,
        writes: [{ tensors, rows, length: cache.length, targetRows: Int32Array.from({ length: rows }, (_, r) => r), positions }],
      });
      return ResidentKvCache.fromTensors(rows, length, out, this.numLayers);
    }
    const D = this.headDim;
    const heads = rows * this.numKvHeads;
    const pick = (a: Float32Array): Float32Array => {
      const out = new Float32Array(heads * length * D);
      for (let h = 0; h < heads; h++) {
        const from = h * cache.length * D;
        out.set(a.subarray(from, from + past * D), h * length * D);
        nodes.forEach((j, i) => out.set(a.subarray(from + (past + j) * D, from + (past + j + 1) * D), (h * length + past + i) * D));
      }
      return out;
    };
    return { batch: rows, length, keys: cache.keys.map(pick), values: cache.values.map(pick) };
  }

  /** Compile and load a graph variant into the session worker (once). */
  private loadVariant(variant: CausalVariant): Promise<void> {
    let load = this.variantLoads.get(variant);
    if (!load) {
      load = (async () => {
        const compiled = this.variants!.graph(variant);
        // run alternately with the main graph: spinning threads of one would starve the other
        await this.session.loadGraph(variant, compiled.modelPath, { externalDataDir: compiled.externalDataDir, spinning: this.variants!.spinning ?? false, ...(compiled.optimizedModel !== undefined ? { optimizedModel: compiled.optimizedModel } : {}) });
      })();
      this.variantLoads.set(variant, load);
    }
    return load;
  }

  private async run(
    what: string, graph: CausalVariant | undefined, input: Record<string, WireTensor>, transfer: ArrayBuffer[],
    batch: number, newLength: number, cache: KvCache, options: ForwardOptions, positions?: BigInt64Array<ArrayBuffer>,
    /** a key mask over past + new (forwardRagged's padded rows); default: every key real */
    keyMask?: BigInt64Array<ArrayBuffer>,
  ): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    const start = performance.now();
    if (cache.batch !== batch) throw new InputError(`${what}: cache is for batch ${cache.batch}, the input for batch ${batch}`);
    this.checkCache(what, cache);
    const past = cache.length;
    const total = past + newLength;
    // a ragged batch's physical length may pass the context; its positions are checked per entry
    if (!keyMask && total > this.maxPositions) throw new InputError(`${what}: ${total} positions (cache ${past} + ${newLength} new) exceed the model's ${this.maxPositions}`);

    const mask = keyMask ?? new BigInt64Array(batch * total).fill(1n);
    const feeds: Record<string, WireTensor | ResidentTensor> = {
      ...input,
      attention_mask: { type: 'int64', data: mask, dims: [batch, total] },
    };
    transfer.push(mask.buffer);
    if (positions || this.spec.inputs.has('position_ids')) {
      const pos = positions ?? positionIds(batch, newLength, past);
      feeds['position_ids'] = { type: 'int64', data: pos, dims: [batch, newLength] };
      transfer.push(pos.buffer);
    }
    if (this.spec.inputs.has('use_cache_branch')) feeds['use_cache_branch'] = { type: 'bool', data: Uint8Array.of(past > 0 ? 1 : 0), dims: [1] };
    const kvDims = [batch, this.numKvHeads, past, this.headDim];
    const resident = this.resident(cache);
    for (let i = 0; i < this.numLayers; i++) {
      // A cache this model made is still in the worker: only its handle travels. Anything else
      // is copied over (never transferred: the caller's cache stays valid).
      feeds[`past_key_values.${i}.key`] = resident ? resident.keyTensors[i]! : { type: 'float32', data: cache.keys[i]!, dims: kvDims };
      feeds[`past_key_values.${i}.value`] = resident ? resident.valueTensors[i]! : { type: 'float32', data: cache.values[i]!, dims: kvDims };
    }
    const fetches = [...HEAD_FETCHES, ...(options.logits ? [HEAD_OUTPUTS.logits] : []), ...this.presentNames];
    const presentDims = [batch, this.numKvHeads, total, this.headDim];
    const result = await this.session.run(feeds, fetches, { transfer, int32Outputs: [HEAD_OUTPUTS.topkIds], keep: keepAll(this.presentNames, presentDims), ...(graph ? { graph } : {}) });
    const head = toHead(result.outputs, batch, newLength, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, cache: ResidentKvCache.fromOutputs(result.resident, batch, total, this.numLayers) };
  }

  /** CPU cores a forward keeps busy (see CausalModel.cpuThreads). */
  get cpuThreads(): number {
    return this.session.cpuThreads;
  }

  /** Whether a forward is still computing in the session worker (see CausalModel.busy). */
  busy(): boolean {
    return this.session.busy();
  }

  /**
   * Free a cache's worker copy now (see CausalModel.releaseCache). Without it, a decoder that
   * replaces its cache every step leaves the old ones to the garbage collector, and until the
   * handles are collected the session's resident limit evicts them as if they were live: every
   * step then moved a dead cache from the worker to this thread (measured on tiny-ar greedy: 798
   * hand-overs in 813 forwards).
   */
  releaseCache(cache: KvCache): void {
    const resident = this.resident(cache);
    if (resident) this.session.release(resident.tensors);
  }

  truncateCache(cache: KvCache, length: number): KvCache {
    if (!Number.isInteger(length) || length < 0 || length > cache.length) {
      throw new InputError(`truncateCache: length ${length} is not within the cache's 0..${cache.length}`);
    }
    this.checkCache('truncateCache', cache);
    // Caches are immutable, so the whole cache is its own prefix. Decoders call this after every
    // commit, usually without cutting anything.
    if (length === cache.length) return cache;
    const resident = this.resident(cache);
    if (resident) {
      // cut inside the worker: nothing crosses to this thread
      const dims = [cache.batch, this.numKvHeads, length, this.headDim];
      const cut = this.session.derivePrefix(resident.tensors, cache.batch * this.numKvHeads, cache.length, length, this.headDim, dims);
      return ResidentKvCache.fromTensors(cache.batch, length, cut, this.numLayers);
    }
    return truncatePlainCache(cache, length, this.numKvHeads, this.headDim);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
