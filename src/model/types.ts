/**
 * The normalized view of a checkpoint that the rest of paradec works with, whatever the
 * architecture's own config keys and tensor names are.
 */
import type { Architecture } from './architectures.js';

export type { Architecture } from './architectures.js';

/**
 * RoPE frequency scaling from config.json's `rope_scaling`. Only the schemes whose effect is a
 * fixed rescaling of the inverse frequencies are supported (so a compiled graph can bake them in
 * as constants); anything else is rejected when the config is read.
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
    };

export interface ModelConfig {
  architecture: Architecture;
  /** Causal attention (autoregressive); false for bidirectional (diffusion). The architecture's trait. */
  causal: boolean;
  /** The prediction for position i comes from the logits at i-1 (Dream, AR-initialised). The architecture's trait. */
  shiftLogits: boolean;
  vocabSize: number; // rows of the embedding/lm-head (LLaDA's embedding_size)
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (qwen2, dream; llada when include_qkv_bias). See ARCHITECTURES. */
  attentionBias: boolean;
  /** per-head RMSNorm on q and k (qwen3). See ARCHITECTURES. */
  qkNorm: boolean;
  maskTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  bosTokenId: number | null;
  /**
   * RoPE scaling; absent or null means plain RoPE. Optional so that hand-built configs (tests,
   * scripted models) need not mention it.
   */
  ropeScaling?: RopeScaling | null;
  /** The raw config.json, for anything not normalized. */
  raw: Record<string, unknown>;
}

export type { LayerWeights, ModelWeights } from './weight-types.js';
