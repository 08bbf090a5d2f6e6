/**
 * The normalized tensors of a checkpoint: where each weight of the computation is, whatever the
 * architecture calls it. Apart from ModelConfig (types.ts) because the architecture table names
 * these fields, and types.ts names the table's architectures: one file each keeps that a line,
 * not a circle.
 */
import type { TensorEntry } from './safetensors.js';

export interface LayerWeights {
  attnNorm: TensorEntry;
  q: TensorEntry; // HF linear layout [out, in]
  k: TensorEntry;
  v: TensorEntry;
  o: TensorEntry;
  qBias?: TensorEntry;
  kBias?: TensorEntry;
  vBias?: TensorEntry;
  qNorm?: TensorEntry; // [headDim]
  kNorm?: TensorEntry;
  ffnNorm: TensorEntry;
  gate: TensorEntry; // [intermediate, hidden]
  up: TensorEntry; // [intermediate, hidden]
  down: TensorEntry; // [hidden, intermediate]
}

export interface ModelWeights {
  embed: TensorEntry; // [vocab, hidden]
  layers: LayerWeights[];
  finalNorm: TensorEntry;
  lmHead: TensorEntry; // [vocab, hidden]; the embedding itself when tied
}
