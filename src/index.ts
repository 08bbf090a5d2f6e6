/**
 * paradec — parallel decoding for language models on ONNX Runtime.
 * The public API: models, generation, strategies, the task suite.
 */
export { loadModel, generate, generateText, generateBatch, encodePrompt, resolveModelDir, BUILTIN_MODELS_DIR, DEFAULT_MODEL } from './api.js';
export type { ParadecModel, LoadOptions, GenerateOptions, GenerationResult, GenerationEvent, Usage, ChatMessage, Dtype, MemoryInfo, MemorySource } from './api.js';
export { allStrategies, DIFFUSION_STRATEGIES, AUTOREGRESSIVE_STRATEGIES } from './decode/registry.js';
export type { DiffusionStrategy, RowView, Predictions, Decision, StrategyDefinition } from './decode/diffusion/types.js';
export type { AutoregressiveStrategy } from './decode/autoregressive/types.js';
export type { BidirectionalModel, CausalModel, DecodeHeadOutput, KvCache } from './runtime/types.js';
export * from './errors.js';
export type { CacheMode } from './decode/diffusion/cache.js';
export type { ExtraModelCache } from './extra-model-loader.js';
export type { Loaded } from './decode/autoregressive/extra-models.js';
