/**
 * The architecture table: every trait of every architecture paradec loads, declared once.
 *
 * The rest of paradec never branches on an architecture's name. The config parser
 * (config.ts), the tensor layout (weights.ts), the checkpoint writer (checkpoint.ts), the
 * trainer's exporter and the diffusion loop's schedule all read the traits below, and
 * everything downstream of loading reads the normalized ModelConfig that the parser fills from
 * them (`causal`, `shiftLogits`, `attentionBias`, `qkNorm`, ...), which is what the graph
 * compiler and the reference forward switch on. (llama.cpp keys behaviour on declared traits
 * the same way, not on names.) Elsewhere a name is only chosen (the trainer exports 'llada' or
 * 'llama') or printed (errors keep saying which architecture they are about), never tested to
 * decide what to do.
 *
 * Adding an architecture
 *
 *   1. Add an entry to TABLE below. Its key becomes a member of `Architecture`. Most new
 *      entries reuse a config spelling (OLMO_CONFIG / HF_CONFIG), a tensor naming (LLADA_TENSORS
 *      / HF_TENSORS) and a list of rejected features; write new ones next to those only when the
 *      architecture's published checkpoints really spell things differently (a new spelling
 *      `style` also needs its writer in checkpoint.ts).
 *   2. Add its published names to test/model/architectures.test.ts (the compiler makes you: the
 *      expectations are a Record over `Architecture`). That test writes a random checkpoint of
 *      every entry, loads it back and checks each trait; the runtime, reference and cache tests
 *      pick the new entry up by its `causal` trait.
 *   3. Ideally add a trimmed copy of a published config.json to test/model/config.test.ts.
 *
 * A computation paradec does not implement yet (a new norm, MLP or attention variant) is not a
 * table entry: it needs a new field in ModelConfig/ModelWeights, a switch in
 * runtime/compile.ts and model/reference.ts, and a trait here that turns it on.
 */
import type { LayerWeights } from './weight-types.js';

/** Base unmasking schedule of a diffusion model: LLaDA's even split per block, or Dream's timesteps. */
export type DiffusionSchedule = 'llada' | 'dream';

/** How an architecture's config.json spells the hyper-parameters whose keys differ between families. */
export interface ConfigSpelling {
  /**
   * The writer's key order: 'olmo' is LLaDA's (its modelling code is OLMo's), 'hf' the
   * transformers PretrainedConfig one. Parsing does not depend on it.
   */
  style: 'olmo' | 'hf';
  hiddenSize: string;
  numHeads: string;
  numKvHeads: string;
  numLayers: string;
  intermediateSize: string;
  vocabSize: string;
  /** Rows of the embedding when the config records them apart from the vocabulary (LLaDA pads it); wins over vocabSize. */
  embeddingRows?: string;
  maxPositions: string;
  tieWordEmbeddings: string;
}

/** A config switch for something paradec does not implement: loading rejects it rather than running a wrong model. */
export interface UnsupportedFeature {
  key: string;
  /** true when the value turns the feature on */
  isUnsupported(value: unknown): boolean;
  /** what the feature is, for the error message */
  why: string;
}

/** Where an architecture's checkpoints keep each tensor of ModelWeights. */
export interface TensorNames {
  embed: string;
  /** prefix of layer i's tensors */
  layer(i: number): string;
  /** each LayerWeights field's name after the layer prefix; a missing field is a tensor the naming has no place for */
  layerFields: Partial<Record<keyof LayerWeights, string>>;
  finalNorm: string;
  /** absent from checkpoints whose embeddings are tied */
  lmHead: string;
}

export interface ArchitectureTraits {
  /** config.json `model_type` spellings that select it (published checkpoints do not agree: Dream writes 'Dream'). */
  modelTypes: readonly string[];
  /** the `model_type` the writer puts in config.json */
  modelType: string;
  /** the Hugging Face class the writer puts in config.json's `architectures` */
  hfClass: string;
  /** causal attention (autoregressive) or bidirectional (every position sees every position) */
  causal: boolean;
  /** the prediction for position i comes from the logits at i-1 (Dream, initialised from an autoregressive model) */
  shiftLogits: boolean;
  /**
   * Masked-diffusion models: the schedule the diffusion loop uses by default. Their config must
   * name `mask_token_id`, and the writer defaults it to the last vocabulary id. null for
   * autoregressive models (a `mask_token_id` in their config is read but not required).
   */
  diffusion: { schedule: DiffusionSchedule } | null;
  /** q/k/v projections carry biases: always, never, or as a config key says (default false) */
  attentionBias: boolean | { key: string };
  /** per-head RMSNorm on q and k */
  qkNorm: boolean;
  /**
   * `head_dim`: 'derived' = the config has no such key, the head size is hidden / heads;
   * 'optional' = read when present; 'required' = the config must set it (and the writer always does).
   */
  headDim: 'derived' | 'optional' | 'required';
  config: ConfigSpelling;
  /** checked in order, before any hyper-parameter is read */
  unsupported: readonly UnsupportedFeature[];
  /**
   * Keys the writer sets to these values, in this order: the switches of rejected features
   * stated off, in the architecture's own vocabulary (a configurable attention-bias key is
   * listed at its default and then given the checkpoint's value).
   */
  writtenSwitches: Readonly<Record<string, unknown>>;
  /** what a config that omits the key means */
  defaults: { ropeTheta: number; rmsNormEps: number; maxPositions: number };
  tensors: TensorNames;
}

// ---------------------------------------------------------------------------------------------
// The vocabularies the entries share

const OLMO_CONFIG: ConfigSpelling = {
  style: 'olmo',
  hiddenSize: 'd_model', numHeads: 'n_heads', numKvHeads: 'n_kv_heads', numLayers: 'n_layers',
  intermediateSize: 'mlp_hidden_size', vocabSize: 'vocab_size', embeddingRows: 'embedding_size',
  maxPositions: 'max_sequence_length', tieWordEmbeddings: 'weight_tying',
};

const HF_CONFIG: ConfigSpelling = {
  style: 'hf',
  hiddenSize: 'hidden_size', numHeads: 'num_attention_heads', numKvHeads: 'num_key_value_heads', numLayers: 'num_hidden_layers',
  intermediateSize: 'intermediate_size', vocabSize: 'vocab_size',
  maxPositions: 'max_position_embeddings', tieWordEmbeddings: 'tie_word_embeddings',
};

const isTrue = (v: unknown): boolean => v === true;

// LLaDA's modelling code is OLMo's; reject the OLMo switches that change the computation.
const OLMO_UNSUPPORTED: readonly UnsupportedFeature[] = [
  { key: 'include_bias', isUnsupported: isTrue, why: 'biases on every linear layer' },
  { key: 'alibi', isUnsupported: isTrue, why: 'ALiBi positions' },
  { key: 'rope', isUnsupported: (v) => v === false, why: 'LLaDA without RoPE' },
  { key: 'attention_layer_norm', isUnsupported: isTrue, why: 'full-width q/k layer norm' },
  { key: 'scale_logits', isUnsupported: isTrue, why: 'logit scaling' },
  { key: 'layer_norm_type', isUnsupported: (v) => v !== 'rms', why: 'only RMSNorm' },
  { key: 'block_type', isUnsupported: (v) => v !== 'llama', why: "only the 'llama' block layout (separate q/k/v and gate/up projections)" },
  { key: 'activation_type', isUnsupported: (v) => v !== 'silu', why: 'only SiLU-gated MLPs (the llama block applies it to ff_proj)' },
  { key: 'input_emb_norm', isUnsupported: isTrue, why: 'embedding normalization' },
];

const HF_UNSUPPORTED: readonly UnsupportedFeature[] = [
  { key: 'hidden_act', isUnsupported: (v) => v !== 'silu', why: 'only SiLU-gated MLPs' },
  { key: 'use_sliding_window', isUnsupported: isTrue, why: 'sliding-window attention' },
  { key: 'mlp_bias', isUnsupported: isTrue, why: 'MLP biases' },
];

// In the llama and qwen3 families attention_bias also adds an o_proj bias, which the normalized view lacks.
const HF_UNSUPPORTED_WITH_ATTENTION_BIAS_SWITCH: readonly UnsupportedFeature[] = [
  ...HF_UNSUPPORTED,
  { key: 'attention_bias', isUnsupported: isTrue, why: 'attention biases' },
];

const LLADA_TENSORS: TensorNames = {
  embed: 'model.transformer.wte.weight',
  layer: (i) => `model.transformer.blocks.${i}.`,
  layerFields: {
    attnNorm: 'attn_norm.weight', q: 'q_proj.weight', k: 'k_proj.weight', v: 'v_proj.weight', o: 'attn_out.weight',
    qBias: 'q_proj.bias', kBias: 'k_proj.bias', vBias: 'v_proj.bias',
    ffnNorm: 'ff_norm.weight',
    // LLaDA: ff_proj is the SiLU-gated branch, up_proj the linear branch, ff_out the down projection.
    gate: 'ff_proj.weight', up: 'up_proj.weight', down: 'ff_out.weight',
  },
  finalNorm: 'model.transformer.ln_f.weight',
  lmHead: 'model.transformer.ff_out.weight',
};

const HF_TENSORS: TensorNames = {
  embed: 'model.embed_tokens.weight',
  layer: (i) => `model.layers.${i}.`,
  layerFields: {
    attnNorm: 'input_layernorm.weight',
    q: 'self_attn.q_proj.weight', k: 'self_attn.k_proj.weight', v: 'self_attn.v_proj.weight', o: 'self_attn.o_proj.weight',
    qBias: 'self_attn.q_proj.bias', kBias: 'self_attn.k_proj.bias', vBias: 'self_attn.v_proj.bias',
    qNorm: 'self_attn.q_norm.weight', kNorm: 'self_attn.k_norm.weight',
    ffnNorm: 'post_attention_layernorm.weight',
    gate: 'mlp.gate_proj.weight', up: 'mlp.up_proj.weight', down: 'mlp.down_proj.weight',
  },
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
};

// ---------------------------------------------------------------------------------------------
// The table

const TABLE = {
  /** LLaDA (Nie et al. 2025): a masked-diffusion LM on OLMo's code, bidirectional attention. */
  llada: {
    modelTypes: ['llada'], modelType: 'llada', hfClass: 'LLaDAModelLM',
    causal: false, shiftLogits: false, diffusion: { schedule: 'llada' },
    attentionBias: { key: 'include_qkv_bias' }, qkNorm: false, headDim: 'derived',
    config: OLMO_CONFIG, unsupported: OLMO_UNSUPPORTED,
    writtenSwitches: {
      include_bias: false, include_qkv_bias: false, block_type: 'llama', activation_type: 'silu', layer_norm_type: 'rms',
      rope: true, alibi: false, scale_logits: false,
    },
    defaults: { ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 4096 },
    tensors: LLADA_TENSORS,
  },
  /** Dream (Ye et al. 2025): Qwen2 with bidirectional attention, initialised from it, so its logits are shifted. */
  dream: {
    modelTypes: ['dream', 'Dream'], modelType: 'Dream', hfClass: 'DreamModel',
    causal: false, shiftLogits: true, diffusion: { schedule: 'dream' },
    attentionBias: true, qkNorm: false, headDim: 'optional',
    config: HF_CONFIG, unsupported: HF_UNSUPPORTED,
    writtenSwitches: { use_sliding_window: false },
    defaults: { ropeTheta: 10000, rmsNormEps: 1e-6, maxPositions: 32768 },
    tensors: HF_TENSORS,
  },
  llama: {
    modelTypes: ['llama'], modelType: 'llama', hfClass: 'LlamaForCausalLM',
    causal: true, shiftLogits: false, diffusion: null,
    attentionBias: false, qkNorm: false, headDim: 'optional',
    config: HF_CONFIG, unsupported: HF_UNSUPPORTED_WITH_ATTENTION_BIAS_SWITCH,
    writtenSwitches: { attention_bias: false },
    defaults: { ropeTheta: 10000, rmsNormEps: 1e-6, maxPositions: 2048 },
    tensors: HF_TENSORS,
  },
  qwen2: {
    modelTypes: ['qwen2'], modelType: 'qwen2', hfClass: 'Qwen2ForCausalLM',
    causal: true, shiftLogits: false, diffusion: null,
    attentionBias: true, qkNorm: false, headDim: 'optional',
    config: HF_CONFIG, unsupported: HF_UNSUPPORTED,
    writtenSwitches: { use_sliding_window: false },
    defaults: { ropeTheta: 10000, rmsNormEps: 1e-6, maxPositions: 32768 },
    tensors: HF_TENSORS,
  },
  qwen3: {
    modelTypes: ['qwen3'], modelType: 'qwen3', hfClass: 'Qwen3ForCausalLM',
    causal: true, shiftLogits: false, diffusion: null,
    attentionBias: false, qkNorm: true, headDim: 'required',
    config: HF_CONFIG, unsupported: HF_UNSUPPORTED_WITH_ATTENTION_BIAS_SWITCH,
    writtenSwitches: { attention_bias: false },
    defaults: { ropeTheta: 10000, rmsNormEps: 1e-6, maxPositions: 32768 },
    tensors: HF_TENSORS,
  },
} satisfies Record<string, ArchitectureTraits>;

/** An architecture paradec loads: a key of the table. */
export type Architecture = keyof typeof TABLE;

export const ARCHITECTURES: Readonly<Record<Architecture, ArchitectureTraits>> = TABLE;

/** Every architecture, in table order. */
export const ARCHITECTURE_NAMES: readonly Architecture[] = Object.keys(TABLE) as Architecture[];

/** Every accepted config.json `model_type`, in table order. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = ARCHITECTURE_NAMES.flatMap((a) => ARCHITECTURES[a].modelTypes);

/** The architecture a `model_type` spelling selects, or undefined. */
export function architectureForModelType(modelType: unknown): Architecture | undefined {
  return ARCHITECTURE_NAMES.find((a) => ARCHITECTURES[a].modelTypes.some((t) => t === modelType));
}

/**
 * The diffusion loop's base schedule for a model of this architecture ('llada' for an
 * autoregressive one, which never runs the loop, as the loop's own default).
 */
export function diffusionScheduleOf(architecture: Architecture): DiffusionSchedule {
  return ARCHITECTURES[architecture].diffusion?.schedule ?? 'llada';
}
