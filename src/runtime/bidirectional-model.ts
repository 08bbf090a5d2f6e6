/**
 * BidirectionalModel on top of a compiled ONNX graph running in a worker session (llada, dream;
 * `compileModel` in compile-model.ts builds it).
 *
 * What crosses into JavaScript per forward: the decode head ([b, s, k] ids and probabilities, [b, s]
 * entropies). Full-vocabulary logits only when a caller asks for them. KV caches (the diffusion
 * KV cache's `forwardWithKv` / `forwardWindow` / `composeKv`) stay in the session worker
 * (ResidentKvCache).
 */
import { CheckpointError, InputError, OptionError } from '../errors.js';
import type { ModelConfig } from '../model/types.js';
import { HEAD_OUTPUTS, type CompiledGraph } from './compile.js';
import { checkPositions, checkTokens, HEAD_FETCHES, ids64, keepAll, mask64, presentNames, toHead, type ForwardTiming } from './forward-io.js';
import { ResidentKvCache } from './resident-kv-cache.js';
import type { OrtSession, ResidentTensor, WireTensor } from './session.js';
import type { BidirectionalKv, CachingBidirectionalModel, DecodeHeadOutput, ForwardOptions, KvComposeSpec, WindowForwardInput } from './types.js';

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
  private readonly presentNames: string[];
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
    this.presentNames = presentNames(config.numLayers);
  }

  /** The full graph's inputs (checked) and the buffers handed to the worker with them. */
  private feeds(tokens: Int32Array, batch: number, length: number, attentionMask: Uint8Array | undefined): { feeds: Record<string, WireTensor>; transfer: ArrayBuffer[] } {
    checkTokens('forward', tokens, batch, length, this.vocabSize);
    if (length > this.maxPositions) throw new InputError(`forward: ${length} positions exceed the model's ${this.maxPositions}`);
    if (attentionMask && attentionMask.length !== batch * length) {
      throw new InputError(`forward: attentionMask has ${attentionMask.length} entries for batch ${batch} × length ${length}`);
    }
    const mask = attentionMask ? mask64(attentionMask) : new BigInt64Array(batch * length).fill(1n);
    const ids = ids64(tokens);
    return {
      feeds: { input_ids: { type: 'int64', data: ids, dims: [batch, length] }, attention_mask: { type: 'int64', data: mask, dims: [batch, length] } },
      transfer: [ids.buffer, mask.buffer],
    };
  }

  async forward(tokens: Int32Array, batch: number, length: number, options: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<DecodeHeadOutput> {
    const start = performance.now();
    const { feeds, transfer } = this.feeds(tokens, batch, length, options.attentionMask);
    const fetches = options.logits ? [...HEAD_FETCHES, HEAD_OUTPUTS.logits] : HEAD_FETCHES;
    const { outputs, runMs } = await this.session.run(feeds, fetches, { transfer, int32Outputs: [HEAD_OUTPUTS.topkIds] });
    const head = toHead(outputs, batch, length, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs };
    return head;
  }

  async forwardWithKv(tokens: Int32Array, batch: number, length: number, options: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<{ head: DecodeHeadOutput; kv: BidirectionalKv }> {
    const start = performance.now();
    const { feeds, transfer } = this.feeds(tokens, batch, length, options.attentionMask);
    const fetches = [...HEAD_FETCHES, ...(options.logits ? [HEAD_OUTPUTS.logits] : []), ...this.presentNames];
    const dims = [batch, this.numKvHeads, length, this.headDim];
    const result = await this.session.run(feeds, fetches, { transfer, int32Outputs: [HEAD_OUTPUTS.topkIds], keep: keepAll(this.presentNames, dims) });
    const head = toHead(result.outputs, batch, length, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, kv: ResidentKvCache.fromOutputs(result.resident, batch, length, this.numLayers) };
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
      await this.session.loadGraph('window', compiled.modelPath, { externalDataDir: compiled.externalDataDir, spinning: this.spinning ?? false, ...(compiled.optimizedModel !== undefined ? { optimizedModel: compiled.optimizedModel } : {}) });
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
    checkPositions('forwardWindow', positions, this.maxPositions);
    if (keyMask.length !== batch * (past + w)) throw new InputError(`forwardWindow: keyMask has ${keyMask.length} entries for batch ${batch} × (cached ${past} + window ${w})`);
    await this.ensureWindowGraph();
    const ids = ids64(tokens);
    const pos = ids64(positions);
    const mask = mask64(keyMask);
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
      keep: keepAll(this.presentNames, dims),
    });
    const head = toHead(result.outputs, batch, w, this.topK, this.vocabSize);
    this.lastTiming = { wallMs: performance.now() - start, runMs: result.runMs };
    return { head, fresh: ResidentKvCache.fromOutputs(result.resident, batch, w, this.numLayers) };
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
    return ResidentKvCache.fromTensors(batch, length, out, this.numLayers);
  }

  releaseKv(kvs: readonly BidirectionalKv[]): void {
    const tensors = kvs.flatMap((kv) => (kv instanceof ResidentKvCache ? kv.tensors : []));
    this.session.release(tensors);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

