/**
 * Existing ONNX decoder exports (transformers.js / optimum / onnxruntime-genai layout:
 * `onnx/model*.onnx`, an optional config.json next to onnx/) loaded as causal models:
 *
 *   if (isOnnxExport(dir)) { const { runtime, config } = await loadOnnxExport(dir, { threads: 2 }); … }
 *
 * paradec appends its decode head to the export and runs it as is; the export's ModelConfig
 * comes from its config.json when paradec knows the architecture, else from the graph and
 * whatever config.json says (see `inferredConfig`).
 */
import { ARCHITECTURES } from '../model/architectures.js';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CheckpointError, OptionError } from '../errors.js';
import { parseModelConfig, readModelConfig } from '../model/config.js';
import type { ModelConfig } from '../model/types.js';
import { OnnxCausalModel } from './causal-model.js';
import { appendDecodeHead, HEAD_OUTPUTS } from './compile.js';
import { Graph } from './graph.js';
import { DataType, decodeModelInterface, encodeMessage } from './onnx-proto.js';
import { OrtSession, type ExecutionProvider } from './session.js';
import type { CausalModel } from './types.js';

export interface LoadOnnxOptions {
  threads?: number;
  spinning?: boolean;
  executionProvider?: ExecutionProvider;
  topK?: number;
  /** which file under onnx/ (default: model.onnx, else the first onnx/model*.onnx) */
  fileName?: string;
}

/**
 * A directory holding an ONNX decoder export (transformers.js / onnxruntime-genai layout:
 * `onnx/model*.onnx`) and no safetensors weights.
 */
export function isOnnxExport(dir: string): boolean {
  if (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'))) return false;
  return exportedModelFiles(join(dir, 'onnx')).length > 0;
}

/** An export loaded: the model, and the config its decoding reads (eos, positions, architecture). */
export interface OnnxExport {
  runtime: OnnxCausalModel;
  config: ModelConfig;
}

/**
 * Load the export in `dir` (see `isOnnxExport`) with its config: config.json's when it names an
 * architecture paradec knows, else one inferred from the loaded graph and config.json.
 */
export async function loadOnnxExport(dir: string, options: LoadOnnxOptions = {}): Promise<OnnxExport> {
  const runtime = await loadOnnxCausalModel(dir, options);
  let config: ModelConfig;
  try {
    config = readModelConfig(dir);
  } catch {
    let raw: Record<string, unknown> = {};
    try {
      raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      raw = {}; // config.json is optional for an export: the graph carries what decoding needs
    }
    config = inferredConfig(runtime, raw);
  }
  return { runtime, config };
}

/**
 * A causal config for an export whose config.json paradec cannot read (none, or an architecture
 * paradec does not compile): the loaded graph's sizes, config.json's numbers, defaults for the rest.
 */
function inferredConfig(runtime: CausalModel, raw: Record<string, unknown>): ModelConfig {
  // an export is a plain causal decoder; the llama entry's traits describe that (the graph
  // itself carries the rest: no bias or q/k-norm switch applies to a loaded graph)
  const llama = ARCHITECTURES.llama;
  const num = (k: string, d: number): number => {
    const v = raw[k];
    return typeof v === 'number' ? v : d;
  };
  return {
    architecture: 'llama',
    causal: llama.causal,
    shiftLogits: llama.shiftLogits,
    vocabSize: runtime.vocabSize,
    hiddenSize: num('hidden_size', 0),
    numLayers: runtime.numLayers,
    numHeads: num('num_attention_heads', 0),
    numKvHeads: num('num_key_value_heads', num('num_attention_heads', 0)),
    headDim: num('head_dim', 0),
    intermediateSize: num('intermediate_size', 0),
    ropeTheta: num('rope_theta', llama.defaults.ropeTheta),
    rmsNormEps: num('rms_norm_eps', llama.defaults.rmsNormEps),
    maxPositions: runtime.maxPositions,
    tieWordEmbeddings: raw['tie_word_embeddings'] === true,
    attentionBias: llama.attentionBias === true,
    qkNorm: llama.qkNorm,
    maskTokenId: null,
    eosTokenIds: [...runtime.eosTokenIds],
    padTokenId: null,
    bosTokenId: null,
    raw,
  };
}

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

/** The `model*.onnx` files in an export's onnx/ directory (none if there is no such directory). */
function exportedModelFiles(onnxDir: string): string[] {
  return existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => /^model.*\.onnx$/.test(f)) : [];
}

function findOnnxFile(path: string, fileName?: string): { file: string; root: string } {
  if (existsSync(path) && statSync(path).isFile()) {
    const dir = dirname(path);
    return { file: path, root: dir.endsWith('/onnx') || dir.endsWith('\\onnx') ? dirname(dir) : dir };
  }
  const onnxDir = join(path, 'onnx');
  const candidates = exportedModelFiles(onnxDir).sort();
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
