/**
 * Compile a checkpoint into ONNX and open it as a model running in a worker session:
 *
 *   const model = await compileModel('models/tiny-dlm', { threads: 2 });
 *   const head = await model.forward(tokens, batch, length);      // bidirectional
 *   ...
 *   await model.dispose();
 *
 * `compileModel` picks the graph by architecture (llada/dream → bidirectional, llama/qwen2/qwen3
 * → causal). An existing transformers.js / onnxruntime-genai export loads through onnx-export.ts
 * instead.
 */
import { OptionError } from '../errors.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { readTensorF32 } from '../model/safetensors.js';
import type { ModelConfig, ModelWeights } from '../model/types.js';
import { canonicalEntries, checkFinite } from '../model/weights.js';
import { OnnxBidirectionalModel } from './bidirectional-model.js';
import { OnnxCausalModel } from './causal-model.js';
import { compileGraph, type CompiledGraph, type CompileProgress, type GraphKind, type Quantization } from './compile.js';
import { InProcessCausalModel } from './inprocess-model.js';
import { OrtSession, type ExecutionProvider } from './session.js';
import { DTYPES, quantizationOf, type Dtype } from './dtype.js';

export interface CompileOptions {
  /** ORT intra-op threads (default: ORT's choice, one per physical core) */
  threads?: number;
  /** ORT threads spin-wait between parallel sections (default: ORT's, on); see SessionOptions */
  spinning?: boolean;
  /** 'cpu' (default) or 'cuda' */
  executionProvider?: ExecutionProvider;
  /** k of the in-graph top-k (default 8) */
  topK?: number;
  /**
   * the weights' data type (dtype.ts): 'fp32' (default), or 'int8' / 'int4', which quantize every
   * linear and the embedding at compile time (MatMulNBits and GatherBlockQuantized, block 32)
   */
  dtype?: Dtype;
  /** the same choice in the graph compiler's terms ('none' = fp32); give `dtype` or this, not both differently */
  quantize?: Quantization;
  /** compiled-graph cache root (default: env PARADEC_CACHE, else ~/.cache/paradec) */
  cacheDir?: string;
  /** see CompileGraphOptions.float32Bundle (default: for F16/BF16 weight files over 64 MiB) */
  float32Bundle?: boolean;
  /**
   * progress of the passes over the weights (NaN/Inf scan, float32 conversion, int4
   * quantization), in checkpoint bytes; see CompileGraphOptions.onProgress
   */
  onProgress?: CompileProgress;
  /**
   * scan the weights for NaN/Inf (default: true for a directory, false for a loaded checkpoint,
   * whose loader chose); skipped when the graph cache records a passed scan of these very files
   */
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

/**
 * Compile a checkpoint (directory or loaded) into ONNX and open it in a worker session. The
 * graph is cached on disk, so a second call for the same checkpoint and options only loads it.
 */
export async function compileModel(source: ModelSource, options: CompileOptions & { inProcess: true }): Promise<InProcessCausalModel>;
export async function compileModel(source: ModelSource, options?: CompileOptions): Promise<CompiledModel>;
export async function compileModel(source: ModelSource, options: CompileOptions = {}): Promise<CompiledModel | InProcessCausalModel> {
  // the NaN/Inf scan happens with the graph lookup, which skips it for files already scanned
  const scan = options.checkFinite ?? typeof source === 'string';
  const { config, weights } = typeof source === 'string' ? loadCheckpoint(source, { checkFinite: false }) : source;
  /** A bad option found before the scan: the scan comes first (as when loadCheckpoint ran it), so a NaN checkpoint says so. */
  const reject = (e: Error): never => {
    if (scan) checkFinite(weights);
    throw e;
  };
  const kind: GraphKind = options.kind ?? (config.causal ? 'causal' : 'bidirectional');
  const quantize = quantizationFor(options, reject);
  // what every graph of this model (main, window, variants) is compiled with
  const graphOptions = {
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(quantize !== undefined ? { quantize } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.float32Bundle !== undefined ? { float32Bundle: options.float32Bundle } : {}),
  };
  // the main graph's compile reports progress; the window graph and variants compiled later reuse its work
  const progress = options.onProgress !== undefined ? { onProgress: options.onProgress } : {};
  /** ORT reports nothing while it loads: its phase is told when it starts and when it ends. */
  const sessionPhase = async <T>(open: () => Promise<T>): Promise<T> => {
    const report = options.onProgress;
    if (!report) return open();
    const total = canonicalEntries(weights).reduce((n, [, e]) => n + e.byteLength, 0);
    report('session', 0, total);
    const opened = await open();
    report('session', total, total);
    return opened;
  };
  if (options.inProcess) {
    if (kind !== 'causal') reject(new OptionError(`inProcess: only causal graphs run on the calling thread; ${config.architecture} would compile as '${kind}' (pass kind: 'causal' for a causal architecture)`));
    const graph = compileGraph(config, weights, { kind: 'causal', ...graphOptions, ...progress, checkFinite: scan });
    return sessionPhase(() => InProcessCausalModel.open(config, graph, options.threads !== undefined ? { threads: options.threads } : {}));
  }
  if (kind === 'window') reject(new OptionError(`kind 'window' is not a model of its own: a bidirectional model loads its window graph when KV caching needs it`));
  if (kind === 'bidirectional' && config.causal) {
    reject(new OptionError(`${config.architecture} is a causal architecture; it cannot be compiled as a bidirectional model`));
  }
  const graph = compileGraph(config, weights, { kind, ...graphOptions, ...progress, checkFinite: scan });
  const session = await sessionPhase(() => OrtSession.open(graph.modelPath, {
    name: `${config.architecture} ${kind} graph ${graph.modelPath}`,
    externalDataDir: graph.externalDataDir,
    ...(graph.optimizedModel !== undefined ? { optimizedModel: graph.optimizedModel } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
    ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
    // a diffusion KV cache keeps a few batches resident at once (cache, fresh window, refresh)
    residentGenerations: options.residentCaches ?? (kind === 'bidirectional' ? 16 : 4),
  }));
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

/** The graphs' Quantization from `dtype` and/or `quantize` (undefined: the compiler's default, fp32). */
function quantizationFor(options: CompileOptions, reject: (e: Error) => never): Quantization | undefined {
  if (options.dtype === undefined) return options.quantize;
  if (!DTYPES.includes(options.dtype)) reject(new OptionError(`dtype must be one of ${DTYPES.join(', ')}, got '${String(options.dtype)}'`));
  const q = quantizationOf(options.dtype);
  if (options.quantize !== undefined && options.quantize !== q) {
    reject(new OptionError(`dtype '${options.dtype}' and quantize '${options.quantize}' disagree: give one of them`));
  }
  return q;
}
