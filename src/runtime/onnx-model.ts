/**
 * BidirectionalModel and CausalModel on top of compiled ONNX graphs running in worker sessions.
 *
 *   const model = await compileModel('models/tiny-dlm', { threads: 2 });
 *   const head = await model.forward(tokens, batch, length);      // bidirectional
 *   ...
 *   await model.dispose();
 *
 * `compileModel` picks the graph by architecture (llada/dream → bidirectional, llama/qwen2/qwen3
 * → causal). `loadOnnxCausalModel` wraps an existing transformers.js / onnxruntime-genai export.
 *
 * What crosses into JavaScript per forward: the decode head ([b, s, k] ids and probabilities, [b, s]
 * entropies). Full-vocabulary logits only when a caller asks for them. KV caches stay in the
 * session worker (ResidentKvCache): feeding a cache back, or truncating it, moves no bytes
 * between threads; its arrays are handed over only if someone reads them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CheckpointError, InputError, OptionError } from '../errors.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { readTensorF32 } from '../model/safetensors.js';
import { parseModelConfig } from '../model/config.js';
import type { ModelConfig, ModelWeights } from '../model/types.js';
import { appendDecodeHead, compileGraph, HEAD_OUTPUTS, type CompiledGraph, type GraphKind, type Quantization } from './compile.js';
import { Graph } from './graph.js';
import { InProcessCausalModel } from './inprocess-model.js';
import { DataType, decodeModelInterface, encodeMessage } from './onnx-proto.js';
import { OrtSession, ResidentTensor, type ExecutionProvider, type WireTensor } from './session.js';
import type {
  BidirectionalKv, CachingBidirectionalModel, CausalModel, DecodeHeadOutput, ForwardOptions, KvCache, KvComposeSpec, WindowForwardInput,
} from './types.js';

export interface CompileOptions {
  /** ORT intra-op threads (default: ORT's choice, one per physical core) */
  threads?: number;
  /** ORT threads spin-wait between parallel sections (default: ORT's, on); see SessionOptions */
  spinning?: boolean;
  /** 'cpu' (default) or 'cuda' */
  executionProvider?: ExecutionProvider;
  /** k of the in-graph top-k (default 8) */
  topK?: number;
  /** 'int4' quantizes the layer linears (MatMulNBits, block 32) at compile time; default 'none' */
  quantize?: Quantization;
  /** compiled-graph cache root (default: env PARADEC_CACHE, else ~/.cache/paradec) */
  cacheDir?: string;
  /** when given a directory: scan weights for NaN/Inf while loading (default true) */
  checkFinite?: boolean;
  /** graph to build (default: by architecture). 'causal' works for every architecture. */
  kind?: GraphKind;
  /**
   * causal: how many KV caches (forward results and truncations) the worker keeps at most
   * (default 4: the current one and a few for rollbacks and branches; bidirectional: 16, for the
   * diffusion KV cache's working set). Past the limit the oldest
   * moves to the main thread (transferred, no copy) if the program may still hold it, so every
   * cache stays valid; feeding such a cache back copies it into the worker again.
   */
  residentCaches?: number;
  /**
   * causal graphs only: run the ORT session on the calling thread instead of a worker
   * (`InProcessCausalModel`). For small sequential drafters, whose forwards cost less than the
   * thread hop; see inprocess-model.ts. `executionProvider`, `spinning` and `residentCaches` do
   * not apply.
   */
  inProcess?: boolean;
}

/** A checkpoint directory, or an already loaded one (anything with config and weights). */
export type ModelSource = string | { config: ModelConfig; weights: ModelWeights };

export type CompiledModel = OnnxBidirectionalModel | OnnxCausalModel;

/** Timing of the most recent forward, for benchmarks: wall time vs time inside ORT's run. */
export interface ForwardTiming {
  wallMs: number;
  runMs: number;
}

const HEAD_FETCHES = [HEAD_OUTPUTS.topkIds, HEAD_OUTPUTS.topkProbs, HEAD_OUTPUTS.entropy];

function checkTokens(what: string, tokens: Int32Array, batch: number, length: number, vocabSize: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new InputError(`${what}: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(length) || length < 1) throw new InputError(`${what}: length must be a positive integer, got ${length}`);
  if (tokens.length !== batch * length) {
    throw new InputError(`${what}: ${tokens.length} tokens given for batch ${batch} × length ${length} (${batch * length})`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t < 0 || t >= vocabSize) {
      throw new InputError(`${what}: token ${t} at row ${Math.floor(i / length)}, position ${i % length} is outside the vocabulary (0..${vocabSize - 1})`);
    }
  }
}

function toHead(outputs: Record<string, WireTensor>, batch: number, length: number, k: number, vocabSize: number): DecodeHeadOutput {
  const head: DecodeHeadOutput = {
    batch,
    length,
    k,
    topkIds: outputs[HEAD_OUTPUTS.topkIds]!.data as Int32Array,
    topkProbs: outputs[HEAD_OUTPUTS.topkProbs]!.data as Float32Array,
    entropy: outputs[HEAD_OUTPUTS.entropy]!.data as Float32Array,
    vocabSize,
  };
  const logits = outputs[HEAD_OUTPUTS.logits];
  if (logits) head.logits = logits.data as Float32Array;
  return head;
}

function ids64(tokens: Int32Array): BigInt64Array<ArrayBuffer> {
  const out = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[i] = BigInt(tokens[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Compiles (or fetches from the cache) a model's window graph; see OnnxBidirectionalModel. */
export type WindowGraphSource = () => CompiledGraph;

export class OnnxBidirectionalModel implements CachingBidirectionalModel {
  readonly kind = 'bidirectional' as const;
  readonly vocabSize: number;
  readonly maskTokenId: number;
  readonly maxPositions: number;
  readonly topK: number;
  readonly shiftsLogits: boolean;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  lastTiming: ForwardTiming = { wallMs: 0, runMs: 0 };
  private readonly presentNames: string[] = [];
  private windowLoad: Promise<void> | undefined;

  /**
   * `windowGraph`: how to get the window graph (KV-cached diffusion steps). It is compiled and
   * loaded into this model's session worker on the first `forwardWindow`, so caches filled by
   * `forwardWithKv` feed it without leaving the worker.
   */
  constructor(
    readonly config: ModelConfig,
    readonly graph: CompiledGraph,
    readonly session: OrtSession,
    private readonly windowGraph?: WindowGraphSource,
    /** ORT spinning as the model was opened with (undefined: ORT's default) */
    private readonly spinning?: boolean,
  ) {
    this.vocabSize = config.vocabSize;
    this.maxPositions = config.maxPositions;
    this.topK = graph.topK;
    this.shiftsLogits = config.shiftLogits;
    this.numLayers = config.numLayers;
    this.numKvHeads = config.numKvHeads;
    this.headDim = config.headDim;
    if (config.maskTokenId === null) throw new CheckpointError(`${config.architecture} config has no mask_token_id; a bidirectional model needs one`);
    this.maskTokenId = config.maskTokenId;
    for (let i = 0; i < config.numLayers; i++) this.presentNames.push(`present.${i}.key`, `present.${i}.value`);
  }

  private feeds(tokens: Int32Array, batch: number, length: number, attentionMask: Uint8Array | undefined): { ids: BigInt64Array<ArrayBuffer>; mask: BigInt64Array<ArrayBuffer> } {
    checkTokens('forward', tokens, batch, length, this.vocabSize);
    if (length > this.maxPositions) throw new InputError(`forward: ${length} positions exceed the model's ${this.maxPositions}`);
    const mask = new BigInt64Array(batch * length);
    if (attentionMask) {
      if (attentionMask.length !== batch * length) {
        throw new InputError(`forward: attentionMask has ${attentionMask.length} entries for batch ${batch} × length ${length}`);
      }
      for (let i = 0; i < mask.length; i++) mask[i] = attentionMask[i] ? 1n : 0n;
    } else mask.fill(1n);
    return { ids: ids64(tokens), mask };
  }

  async forward(tokens: Int32Array, batch: number, length: number, options: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<DecodeHeadOutput> {
    const start = performance.now();
    const { ids, mask } = this.feeds(tokens, batch, length, options.attentionMask);
    const fetches = options.logits ? [...HEAD_FETCHES, HEAD_OUTPUTS.logits] : HEAD_FETCHES;
    const { outputs, runMs } = await this.session.run(
      { input_ids: { type: 'int64', data: ids, dims: [batch, length] }, attention_mask: { type: 'int64', data: mask, dims: [batch, length] } },
      fetches,
      { transfer: [ids.buffer, mask.buffer], int32Outputs: [HEAD_OUTPUTS.topkIds] },
    );
    const head = toHead(outputs, batch, length, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs };
    return head;
  }

  async forwardWithKv(tokens: Int32Array, batch: number, length: number, options: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<{ head: DecodeHeadOutput; kv: BidirectionalKv }> {
    const start = performance.now();
    const { ids, mask } = this.feeds(tokens, batch, length, options.attentionMask);
    const fetches = [...HEAD_FETCHES, ...(options.logits ? [HEAD_OUTPUTS.logits] : []), ...this.presentNames];
    const dims = [batch, this.numKvHeads, length, this.headDim];
    const result = await this.session.run(
      { input_ids: { type: 'int64', data: ids, dims: [batch, length] }, attention_mask: { type: 'int64', data: mask, dims: [batch, length] } },
      fetches,
      { transfer: [ids.buffer, mask.buffer], int32Outputs: [HEAD_OUTPUTS.topkIds], keep: Object.fromEntries(this.presentNames.map((n) => [n, dims])) },
    );
    const head = toHead(result.outputs, batch, length, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, kv: this.kvOf(result.resident, batch, length) };
  }

  private kvOf(resident: Record<string, ResidentTensor>, batch: number, length: number): ResidentKvCache {
    const keys: ResidentTensor[] = [];
    const values: ResidentTensor[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      keys.push(resident[`present.${i}.key`]!);
      values.push(resident[`present.${i}.value`]!);
    }
    return new ResidentKvCache(batch, length, keys, values);
  }

  /** The cache's tensors, which must be this model's and still in its worker. */
  private own(what: string, kv: BidirectionalKv): ResidentKvCache {
    if (!(kv instanceof ResidentKvCache) || kv.keyTensors.length !== this.numLayers || !kv.tensors.every((t) => this.session.holds(t))) {
      throw new InputError(`${what}: the cache was not made by this model, or was released or used up`);
    }
    return kv;
  }

  /** Compile and load the window graph into the session worker (once). */
  private ensureWindowGraph(): Promise<void> {
    if (!this.windowGraph) return Promise.reject(new OptionError(`${this.config.architecture}: this model was built without a window graph; KV caching needs one (compileModel builds it)`));
    this.windowLoad ??= (async () => {
      const compiled = this.windowGraph!();
      // The window graph runs alternately with the full one in the same worker, each with its own
      // ORT thread pool; spinning threads of one would steal the cores the other's run needs
      // (measured: full refreshes 3× slower), so it never spins unless asked to.
      await this.session.loadGraph('window', compiled.modelPath, { externalDataDir: compiled.externalDataDir, spinning: this.spinning ?? false });
    })();
    return this.windowLoad;
  }

  async forwardWindow(input: WindowForwardInput, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; fresh: BidirectionalKv }> {
    const start = performance.now();
    const { batch, window: w, tokens, positions, keyMask } = input;
    checkTokens('forwardWindow', tokens, batch, w, this.vocabSize);
    const cache = input.cache === null ? null : this.own('forwardWindow', input.cache);
    const past = cache?.length ?? 0;
    if (cache && cache.batch !== batch) throw new InputError(`forwardWindow: cache is for batch ${cache.batch}, the window for batch ${batch}`);
    if (positions.length !== batch * w) throw new InputError(`forwardWindow: ${positions.length} positions for batch ${batch} × window ${w}`);
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0 || p >= this.maxPositions) throw new InputError(`forwardWindow: position ${p} is outside the model's 0..${this.maxPositions - 1}`);
    }
    if (keyMask.length !== batch * (past + w)) throw new InputError(`forwardWindow: keyMask has ${keyMask.length} entries for batch ${batch} × (cached ${past} + window ${w})`);
    await this.ensureWindowGraph();
    const ids = ids64(tokens);
    const pos = ids64(positions);
    const mask = new BigInt64Array(keyMask.length);
    for (let i = 0; i < mask.length; i++) mask[i] = keyMask[i] ? 1n : 0n;
    const feeds: Record<string, WireTensor | ResidentTensor> = {
      input_ids: { type: 'int64', data: ids, dims: [batch, w] },
      position_ids: { type: 'int64', data: pos, dims: [batch, w] },
      attention_mask: { type: 'int64', data: mask, dims: [batch, past + w] },
    };
    const kvDims = [batch, this.numKvHeads, past, this.headDim];
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = cache ? cache.keyTensors[i]! : { type: 'float32', data: new Float32Array(0), dims: kvDims };
      feeds[`past_key_values.${i}.value`] = cache ? cache.valueTensors[i]! : { type: 'float32', data: new Float32Array(0), dims: kvDims };
    }
    const fetches = [...HEAD_FETCHES, ...(options.logits ? [HEAD_OUTPUTS.logits] : []), ...this.presentNames];
    const dims = [batch, this.numKvHeads, w, this.headDim];
    const result = await this.session.run(feeds, fetches, {
      graph: 'window',
      transfer: [ids.buffer, pos.buffer, mask.buffer],
      int32Outputs: [HEAD_OUTPUTS.topkIds],
      keep: Object.fromEntries(this.presentNames.map((n) => [n, dims])),
    });
    const head = toHead(result.outputs, batch, w, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, fresh: this.kvOf(result.resident, batch, w) };
  }

  composeKv(base: BidirectionalKv | null, spec: KvComposeSpec): BidirectionalKv {
    const from = base === null ? null : this.own('composeKv', base);
    const { batch, length } = spec;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(length) || length < 1) throw new InputError(`composeKv: bad shape ${batch} × ${length}`);
    if (spec.rowMap.length !== batch) throw new InputError(`composeKv: rowMap has ${spec.rowMap.length} entries for ${batch} rows`);
    for (const r of spec.rowMap) if (r >= (from?.batch ?? 0)) throw new InputError(`composeKv: row ${r} is not in the base (${from?.batch ?? 0} rows)`);
    const writes = spec.writes.map((w) => {
      const kv = this.own('composeKv', w.kv);
      if (w.targetRows.length !== kv.batch || w.positions.length !== kv.batch * kv.length) throw new InputError('composeKv: a write\'s rows/positions do not match its cache');
      for (const t of w.targetRows) if (t >= batch) throw new InputError(`composeKv: target row ${t} is not in the output (${batch} rows)`);
      for (const p of w.positions) if (p >= length) throw new InputError(`composeKv: target position ${p} is not in the output (${length})`);
      return { tensors: kv.tensors, rows: kv.batch, length: kv.length, targetRows: w.targetRows, positions: w.positions };
    });
    const release = (spec.release ?? []).flatMap((kv) => (kv instanceof ResidentKvCache ? kv.tensors : []));
    const out = this.session.compose({
      base: from ? from.tensors : null,
      baseRows: from?.batch ?? 0,
      baseLength: from?.length ?? 0,
      rows: batch,
      heads: this.numKvHeads,
      length,
      width: this.headDim,
      rowMap: spec.rowMap,
      consume: spec.consume,
      writes,
      release,
    });
    return new ResidentKvCache(batch, length, out.slice(0, this.numLayers), out.slice(this.numLayers));
  }

  releaseKv(kvs: readonly BidirectionalKv[]): void {
    const tensors = kvs.flatMap((kv) => (kv instanceof ResidentKvCache ? kv.tensors : []));
    this.session.release(tensors);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

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

/**
 * A KV cache that lives in the model's session worker. `keys` and `values` are ordinary
 * Float32Arrays to anyone who reads them, but they are only copied to the main thread on first
 * read (decoders usually never read them: they pass caches back to `forward` and truncate them,
 * both of which stay inside the worker). Immutable, like every KvCache.
 */
export class ResidentKvCache implements KvCache {
  declare readonly keys: Float32Array[];
  declare readonly values: Float32Array[];

  constructor(
    readonly batch: number,
    readonly length: number,
    /** per layer: key, value (the worker's tensors) */
    readonly keyTensors: readonly ResidentTensor[],
    readonly valueTensors: readonly ResidentTensor[],
  ) {
    let keys: Float32Array[] | undefined;
    let values: Float32Array[] | undefined;
    // (the first read hands the whole cache over in one round trip: see OrtSession.awaitHandOver)
    const read = (ts: readonly ResidentTensor[]): Float32Array[] => ts.map((t) => t.read());
    // own enumerable accessors, so `{ ...cache }` and JSON see them like plain fields
    Object.defineProperty(this, 'keys', { enumerable: true, get: () => (keys ??= read(keyTensors)) });
    Object.defineProperty(this, 'values', { enumerable: true, get: () => (values ??= read(valueTensors)) });
  }

  /** Every layer's key tensor, then every layer's value tensor (the order compose/derive use). */
  get tensors(): ResidentTensor[] {
    return [...this.keyTensors, ...this.valueTensors];
  }
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
    this.presentNames = [];
    for (let i = 0; i < spec.numLayers; i++) this.presentNames.push(`present.${i}.key`, `present.${i}.value`);
  }

  emptyCache(batch: number): KvCache {
    if (!Number.isInteger(batch) || batch < 1) throw new InputError(`emptyCache: batch must be a positive integer, got ${batch}`);
    const none = () => Array.from({ length: this.numLayers }, () => new Float32Array(0));
    return { batch, length: 0, keys: none(), values: none() };
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
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0 || p >= this.maxPositions) throw new InputError(`forwardTree: position ${p} is outside the model's 0..${this.maxPositions - 1}`);
    }
    await this.loadVariant('tree');
    const ids = ids64(tokens);
    const mask = new BigInt64Array(treeMask.length);
    for (let i = 0; i < mask.length; i++) mask[i] = treeMask[i] ? 1n : 0n;
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
      return new ResidentKvCache(rows, length, out.slice(0, this.numLayers), out.slice(this.numLayers));
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
        await this.session.loadGraph(variant, compiled.modelPath, { externalDataDir: compiled.externalDataDir, spinning: this.variants!.spinning ?? false });
      })();
      this.variantLoads.set(variant, load);
    }
    return load;
  }

  private async run(
    what: string, graph: CausalVariant | undefined, input: Record<string, WireTensor>, transfer: ArrayBuffer[],
    batch: number, newLength: number, cache: KvCache, options: ForwardOptions, positions?: BigInt64Array<ArrayBuffer>,
  ): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    const start = performance.now();
    if (cache.batch !== batch) throw new InputError(`${what}: cache is for batch ${cache.batch}, the input for batch ${batch}`);
    this.checkCache(what, cache);
    const past = cache.length;
    const total = past + newLength;
    if (total > this.maxPositions) throw new InputError(`${what}: ${total} positions (cache ${past} + ${newLength} new) exceed the model's ${this.maxPositions}`);

    const mask = new BigInt64Array(batch * total).fill(1n);
    const feeds: Record<string, WireTensor | ResidentTensor> = {
      ...input,
      attention_mask: { type: 'int64', data: mask, dims: [batch, total] },
    };
    transfer.push(mask.buffer);
    if (positions || this.spec.inputs.has('position_ids')) {
      let pos = positions;
      if (!pos) {
        pos = new BigInt64Array(batch * newLength);
        for (let b = 0; b < batch; b++) for (let j = 0; j < newLength; j++) pos[b * newLength + j] = BigInt(past + j);
      }
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
    const keep = Object.fromEntries(this.presentNames.map((n) => [n, presentDims]));
    const result = await this.session.run(feeds, fetches, { transfer, int32Outputs: [HEAD_OUTPUTS.topkIds], keep, ...(graph ? { graph } : {}) });
    const head = toHead(result.outputs, batch, newLength, this.topK, this.vocabSize);
    const keys: ResidentTensor[] = [];
    const values: ResidentTensor[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      keys.push(result.resident[`present.${i}.key`]!);
      values.push(result.resident[`present.${i}.value`]!);
    }
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, cache: new ResidentKvCache(batch, total, keys, values) };
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
    const rows = cache.batch * this.numKvHeads;
    const resident = this.resident(cache);
    if (resident) {
      // cut inside the worker: nothing crosses to this thread
      const dims = [cache.batch, this.numKvHeads, length, this.headDim];
      const cut = this.session.derivePrefix(resident.tensors, rows, cache.length, length, this.headDim, dims);
      return new ResidentKvCache(cache.batch, length, cut.slice(0, this.numLayers), cut.slice(this.numLayers));
    }
    const oldRow = cache.length * this.headDim;
    const newRow = length * this.headDim;
    const cut = (a: Float32Array): Float32Array => {
      const out = new Float32Array(rows * newRow);
      for (let r = 0; r < rows; r++) out.set(a.subarray(r * oldRow, r * oldRow + newRow), r * newRow);
      return out;
    };
    return { batch: cache.batch, length, keys: cache.keys.map(cut), values: cache.values.map(cut) };
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Compile a checkpoint (directory or loaded) into ONNX and open it in a worker session. The
 * graph is cached on disk, so a second call for the same checkpoint and options only loads it.
 */
export async function compileModel(source: ModelSource, options: CompileOptions & { inProcess: true }): Promise<InProcessCausalModel>;
export async function compileModel(source: ModelSource, options?: CompileOptions): Promise<CompiledModel>;
export async function compileModel(source: ModelSource, options: CompileOptions = {}): Promise<CompiledModel | InProcessCausalModel> {
  const checkpoint = typeof source === 'string' ? loadCheckpoint(source, { checkFinite: options.checkFinite ?? true }) : source;
  const { config, weights } = checkpoint;
  const kind: GraphKind = options.kind ?? (config.causal ? 'causal' : 'bidirectional');
  // what every graph of this model (main, window, variants) is compiled with
  const graphOptions = {
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.quantize !== undefined ? { quantize: options.quantize } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
  };
  if (options.inProcess) {
    if (kind !== 'causal') throw new OptionError(`inProcess: only causal graphs run on the calling thread; ${config.architecture} would compile as '${kind}' (pass kind: 'causal' for a causal architecture)`);
    const graph = compileGraph(config, weights, { kind: 'causal', ...graphOptions });
    return InProcessCausalModel.open(config, graph, options.threads !== undefined ? { threads: options.threads } : {});
  }
  if (kind === 'window') throw new OptionError(`kind 'window' is not a model of its own: a bidirectional model loads its window graph when KV caching needs it`);
  if (kind === 'bidirectional' && config.causal) {
    throw new OptionError(`${config.architecture} is a causal architecture; it cannot be compiled as a bidirectional model`);
  }
  const graph = compileGraph(config, weights, { kind, ...graphOptions });
  const session = await OrtSession.open(graph.modelPath, {
    name: `${config.architecture} ${kind} graph ${graph.modelPath}`,
    externalDataDir: graph.externalDataDir,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
    ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
    // a diffusion KV cache keeps a few batches resident at once (cache, fresh window, refresh)
    residentGenerations: options.residentCaches ?? (kind === 'bidirectional' ? 16 : 4),
  });
  if (kind === 'bidirectional') {
    const windowGraph = (): CompiledGraph => compileGraph(config, weights, { kind: 'window', ...graphOptions });
    return new OnnxBidirectionalModel(config, graph, session, windowGraph, options.spinning);
  }
  return new OnnxCausalModel(
    {
      vocabSize: config.vocabSize,
      maxPositions: config.maxPositions,
      numLayers: config.numLayers,
      numKvHeads: config.numKvHeads,
      headDim: config.headDim,
      eosTokenIds: config.eosTokenIds,
      topK: graph.topK,
      inputs: new Set(session.inputNames),
      hiddenSize: config.hiddenSize,
    },
    session,
    graph,
    {
      graph: (variant) => compileGraph(config, weights, {
        kind: 'causal',
        ...(variant === 'embeds' ? { inputs: 'embeds' as const } : { tree: true }),
        ...graphOptions,
      }),
      embedTable: () => readTensorF32(weights.embed),
      ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Existing exports (transformers.js / optimum / onnxruntime-genai layout)

export interface LoadOnnxOptions {
  threads?: number;
  spinning?: boolean;
  executionProvider?: ExecutionProvider;
  topK?: number;
  /** which file under onnx/ (default: model.onnx, else the first onnx/model*.onnx) */
  fileName?: string;
}

function findOnnxFile(path: string, fileName?: string): { file: string; root: string } {
  if (existsSync(path) && statSync(path).isFile()) {
    const dir = dirname(path);
    return { file: path, root: dir.endsWith('/onnx') || dir.endsWith('\\onnx') ? dirname(dir) : dir };
  }
  const onnxDir = join(path, 'onnx');
  const candidates = existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => /^model.*\.onnx$/.test(f)).sort() : [];
  if (fileName) {
    for (const f of [join(onnxDir, fileName), join(path, fileName)]) if (existsSync(f)) return { file: f, root: path };
    throw new CheckpointError(`${path}: no ${fileName} in ${onnxDir} or ${path}`);
  }
  if (candidates.includes('model.onnx')) return { file: join(onnxDir, 'model.onnx'), root: path };
  if (candidates.length) return { file: join(onnxDir, candidates[0]!), root: path };
  if (existsSync(join(path, 'model.onnx'))) return { file: join(path, 'model.onnx'), root: path };
  throw new CheckpointError(`${path}: no onnx/model*.onnx or model.onnx found`);
}

const ELEM_NAME: Record<number, string> = { [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.BFLOAT16]: 'bfloat16', [DataType.DOUBLE]: 'float64' };

/**
 * Load an exported decoder (inputs `input_ids`, `attention_mask`, optional `position_ids`,
 * `past_key_values.N.key|value`; outputs `logits`, `present.N.key|value`) as a CausalModel.
 *
 * paradec's decode head is appended to the model without parsing it: a serialized ModelProto
 * that holds only `graph { node, initializer, output }` is concatenated to the file's bytes, and
 * protobuf's merge rule (repeated fields of an embedded message append) makes ORT read one graph
 * with the head's nodes and outputs added. Multi-GB exports use external data, which still
 * resolves against the export's own directory.
 */
export async function loadOnnxCausalModel(path: string, options: LoadOnnxOptions = {}): Promise<OnnxCausalModel> {
  const { file, root } = findOnnxFile(path, options.fileName);
  const original = await readFile(file);
  const iface = decodeModelInterface(original);
  const opset = iface.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  if (opset < 11) throw new CheckpointError(`${file}: ai.onnx opset ${opset} is too old (paradec's decode head needs 11 or later)`);
  const logitsInfo = iface.outputs.find((o) => o.name === HEAD_OUTPUTS.logits);
  if (!logitsInfo) throw new CheckpointError(`${file}: the model has no 'logits' output (outputs: ${iface.outputs.map((o) => o.name).join(', ')})`);
  if (!iface.inputs.some((i) => i.name === 'input_ids')) throw new CheckpointError(`${file}: the model has no 'input_ids' input`);
  const pastKeys = iface.inputs.filter((i) => /^past_key_values\.\d+\.key$/.test(i.name));
  if (pastKeys.length === 0) throw new CheckpointError(`${file}: the model has no past_key_values.N.key inputs (exported without a KV cache?)`);
  for (const p of [...pastKeys, logitsInfo]) {
    if (p.elemType !== DataType.FLOAT) {
      throw new CheckpointError(`${file}: '${p.name}' is ${ELEM_NAME[p.elemType] ?? `type ${p.elemType}`}; paradec runs float32 exports (KV caches are Float32Array)`);
    }
  }
  const numLayers = pastKeys.length;

  let config: ModelConfig | undefined;
  let raw: Record<string, unknown> = {};
  const configFile = join(root, 'config.json');
  if (existsSync(configFile)) {
    raw = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    try {
      config = parseModelConfig(raw, configFile);
    } catch {
      config = undefined; // an architecture paradec does not compile itself: the export still runs
    }
  }
  const kvDims = pastKeys[0]!.dims;
  const staticDim = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
  const numKvHeads = staticDim(kvDims[1]) ?? config?.numKvHeads;
  const headDim = staticDim(kvDims[3]) ?? config?.headDim;
  const vocabSize = staticDim(logitsInfo.dims[2]) ?? config?.vocabSize ?? (typeof raw['vocab_size'] === 'number' ? raw['vocab_size'] : undefined);
  if (numKvHeads === undefined || headDim === undefined || vocabSize === undefined) {
    throw new CheckpointError(`${file}: cannot tell the KV heads, head size or vocabulary size from the graph; put a config.json next to onnx/`);
  }
  const topK = Math.min(options.topK ?? 8, vocabSize);
  if (!Number.isInteger(topK) || topK < 1) throw new OptionError(`topK must be a positive integer, got ${options.topK}`);

  const g = new Graph('paradec_head', 'paradec_head/');
  appendDecodeHead(g, HEAD_OUTPUTS.logits, topK, { opset, shapes: false });
  const head = encodeMessage('ModelProto', { graph: { node: g.nodes, initializer: g.initializers, output: g.outputs } });
  const bytes = new Uint8Array(original.byteLength + head.byteLength);
  bytes.set(original, 0);
  bytes.set(head, original.byteLength);

  const session = await OrtSession.open(bytes, {
    name: `ONNX export ${file}`,
    externalDataDir: dirname(file),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
    ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
  });
  const eos = config?.eosTokenIds ?? [raw['eos_token_id']].flat().filter((x): x is number => typeof x === 'number');
  const maxPositions = config?.maxPositions ?? (typeof raw['max_position_embeddings'] === 'number' ? raw['max_position_embeddings'] : 2048);
  return new OnnxCausalModel(
    { vocabSize, maxPositions, numLayers, numKvHeads, headDim, eosTokenIds: eos, topK, inputs: new Set(session.inputNames) },
    session,
  );
}

