/** The runtime's public surface: compile checkpoints into ONNX graphs and run them off-thread. */
export type {
  AnyModel, BidirectionalKv, BidirectionalModel, CachingBidirectionalModel, CausalModel, DecodeHeadOutput, ForwardOptions, KvCache, KvComposeSpec,
  TreeCausalModel, WindowForwardInput,
} from './types.js';
export { supportsKvCache, supportsTree } from './types.js';
export { compileModel } from './compile-model.js';
export type { CompileOptions, CompiledModel, ModelSource } from './compile-model.js';
export { OnnxBidirectionalModel } from './bidirectional-model.js';
export type { WindowGraphSource } from './bidirectional-model.js';
export { OnnxCausalModel } from './causal-model.js';
export type { CausalSpec, CausalVariant, CausalVariantSource } from './causal-model.js';
export type { ForwardTiming } from './forward-io.js';
export { loadOnnxCausalModel } from './onnx-export.js';
export type { LoadOnnxOptions } from './onnx-export.js';
export { ResidentKvCache } from './resident-kv-cache.js';
export { InProcessCausalModel } from './inprocess-model.js';
export type { InProcessOptions } from './inprocess-model.js';
export { compileGraph, buildGraph, appendDecodeHead, cacheRoot, GRAPH_OPSETS, HEAD_OUTPUTS, COMPILER_VERSION } from './compile.js';
export type { CompiledGraph, CompileGraphOptions, GraphKind, GraphOptions, Quantization, HeadOptions, WeightStore } from './compile.js';
export { OrtSession, ResidentTensor, prewarmSessionWorker, discardSpareSessionWorker } from './session.js';
export type { SessionOptions, RunOptions, RunResult, ExecutionProvider, WireTensor, ComposeSpec, ComposeSource } from './session.js';
export { Graph, float, floats, MICROSOFT } from './graph.js';
export type { ElemType, Dim, AttrValue, ExternalLocation } from './graph.js';
export { quantizeInt4, quantizeInt8, quantizeBlocks, dequantizeInt4, dequantizeBlocks } from './quantize.js';
export type { Int4Weights, BlockQuantized, QuantBits } from './quantize.js';
export { DTYPES, parseDtype, quantizationOf, dtypeOf } from './dtype.js';
export type { Dtype } from './dtype.js';
export { estimateMemory, estimateAll, chooseDtype, checkFits, systemMemory, formatBytes, ESTIMATE_TOKENS } from './memory.js';
export type { MemoryEstimate, MemoryInfo, MemorySource, EstimateOptions, DtypeChoice } from './memory.js';
