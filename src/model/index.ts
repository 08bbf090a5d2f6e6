/** Public surface of src/model: checkpoints, configs, weights, tokenizers, the reference forward. */
export type { Architecture, ModelConfig, ModelWeights, LayerWeights, RopeScaling } from './types.js';
export { ARCHITECTURES, ARCHITECTURE_NAMES, diffusionScheduleOf } from './architectures.js';
export type { ArchitectureTraits, ConfigSpelling, DiffusionSchedule, TensorNames, UnsupportedFeature } from './architectures.js';
export {
  readSafetensorsHeader, loadTensorTable, readTensorBytes, readTensorF32, decodeToF32, writeSafetensors, f16ToF32, f32ToF16, DTYPE_BYTES,
} from './safetensors.js';
export type { SafetensorsDtype, TensorEntry, SafetensorsHeader, TensorToWrite } from './safetensors.js';
export { readModelConfig, parseModelConfig, parseRopeScaling, architectureOf, SUPPORTED_MODEL_TYPES } from './config.js';
export { resolveWeights, checkFinite, tensorLayout, canonicalEntries, readCanonicalTensors } from './weights.js';
export type { TensorSpec, LayoutDims, LayerField } from './weights.js';
export { loadCheckpoint, writeCheckpoint, writeRandomCheckpoint } from './checkpoint.js';
export type {
  Checkpoint, LoadCheckpointOptions, CheckpointDims, WeightDtype, WriteCheckpointOptions, CanonicalTensors, RandomWeights,
  WrittenCheckpoint, RandomCheckpointOptions,
} from './checkpoint.js';
export {
  TextTokenizer, loadTokenizer, writeWordTokenizer, FALLBACK_CHAT_TEMPLATE, WORD_TOKENIZER_SPECIALS, WORD_TOKENIZER_MASK,
} from './tokenizer.js';
export type {
  ChatMessage, EncodeOptions, DecodeOptions, ChatTemplateOptions, SpecialToken, SpecialTokenRole, WordTokenizerOptions,
} from './tokenizer.js';
export { referenceForward } from './reference.js';
export type { ReferenceModel, ReferenceOptions } from './reference.js';
export { ropeInverseFrequencies, applyRope } from './rope.js';
