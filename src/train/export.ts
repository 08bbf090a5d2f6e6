/**
 * Export trained weights as a Hugging Face checkpoint directory that paradec's runtime loads:
 * masked-diffusion models in the `llada` layout (LLaDA's config keys, `model.transformer.*`
 * tensor names), causal models in the `llama` layout. The tokenizer files are copied from the
 * tokenizer directory, and a generation_config.json is written.
 *
 * Also the reverse: read an exported checkpoint (or a run directory) back into trainer weights,
 * for `--init-from`.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHITECTURES, type Architecture } from '../model/architectures.js';
import { loadCheckpoint, writeCheckpoint } from '../model/checkpoint.js';
import { readCanonicalTensors } from '../model/weights.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { paramShapes, type ModelShape } from './model.js';
import type { Objective } from './objective.js';
import { loadState, stateExists } from './state.js';

/** Matrices the trainer stores as [in, out] (x·W); HF stores [out, in]. `embed` is [vocab, d] in both. */
function isTransposed(name: string): boolean {
  return name !== 'embed' && !name.endsWith('Norm');
}

export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** Trainer weights → canonical HF-layout tensors. */
export function toCanonical(shape: ModelShape, params: Map<string, Float32Array>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, sh] of paramShapes(shape)) {
    const v = params.get(name)!;
    out[name] = isTransposed(name) ? transpose2d(v, sh[0]!, sh[1]!) : v;
  }
  return out;
}

/** Canonical HF-layout tensors → trainer weights. */
export function fromCanonical(shape: ModelShape, t: Record<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, sh] of paramShapes(shape)) {
    const v = name === 'lmHead' && !t['lmHead'] ? t['embed'] : t[name];
    if (!v) throw new Error(`init checkpoint has no tensor ${name}`);
    const n = sh.reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new Error(`init checkpoint tensor ${name} has ${v.length} values, expected ${n} (${JSON.stringify(sh)})`);
    // HF [out, in] = [sh[1], sh[0]] → transpose back to [in, out]
    out.set(name, isTransposed(name) ? transpose2d(v, sh[1]!, sh[0]!) : v);
  }
  return out;
}

export interface ExportOptions {
  dir: string;
  objective: Objective;
  shape: ModelShape;
  params: Map<string, Float32Array>;
  tokenizer: TextTokenizer;
  /** answer canvas length (diffusion) / max new tokens (causal) recorded in generation_config */
  canvas: number;
  /** extra notes merged into generation_config.json under `paradec` */
  meta?: Record<string, unknown>;
}

export function exportCheckpoint(o: ExportOptions): string[] {
  mkdirSync(o.dir, { recursive: true });
  const tok = o.tokenizer;
  const eos = tok.eos!.id;
  const arch: Architecture = o.objective === 'diffusion' ? 'llada' : 'llama';
  const diffusion = ARCHITECTURES[arch].diffusion !== null;
  const written = writeCheckpoint(
    o.dir,
    arch,
    {
      vocabSize: o.shape.vocabSize,
      hiddenSize: o.shape.dModel,
      numLayers: o.shape.layers,
      numHeads: o.shape.heads,
      intermediateSize: o.shape.ffn,
      maxPositions: o.shape.maxPositions,
      ropeTheta: o.shape.ropeTheta,
      rmsNormEps: o.shape.rmsNormEps,
      tieWordEmbeddings: false,
      maskTokenId: diffusion ? tok.mask!.id : null,
      eosTokenIds: [eos],
      bosTokenId: tok.bos?.id ?? null,
      padTokenId: tok.pad?.id ?? eos,
    },
    toCanonical(o.shape, o.params),
  );
  const files = [...written.files];
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja']) {
    const src = join(tok.dir, f);
    if (existsSync(src)) {
      copyFileSync(src, join(o.dir, f));
      files.push(f);
    }
  }
  const gen: Record<string, unknown> = {
    eos_token_id: eos,
    pad_token_id: tok.pad?.id ?? eos,
    ...(tok.bos ? { bos_token_id: tok.bos.id } : {}),
    do_sample: false,
    max_new_tokens: o.canvas,
  };
  if (diffusion) Object.assign(gen, { mask_token_id: tok.mask!.id, gen_length: o.canvas, steps: o.canvas, block_length: o.canvas });
  if (o.meta) gen['paradec'] = o.meta;
  writeFileSync(join(o.dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
  files.push('generation_config.json');
  return files;
}

/**
 * Weights for `--init-from`: a run directory (state.json + state.safetensors) or an exported HF
 * checkpoint of either layout. The shape must match the new run's shape.
 */
export function loadInitWeights(dir: string, shape: ModelShape): Map<string, Float32Array> {
  if (stateExists(dir)) {
    const s = loadState(dir);
    for (const k of ['vocabSize', 'dModel', 'layers', 'heads', 'ffn'] as const) {
      if (s.shape[k] !== shape[k]) throw new Error(`--init-from ${dir}: ${k} is ${s.shape[k]}, this run has ${shape[k]}`);
    }
    return s.params;
  }
  const ck = loadCheckpoint(dir);
  const c = ck.config;
  const have = { vocabSize: c.vocabSize, dModel: c.hiddenSize, layers: c.numLayers, heads: c.numHeads, ffn: c.intermediateSize };
  for (const k of Object.keys(have) as (keyof typeof have)[]) {
    if (have[k] !== shape[k]) throw new Error(`--init-from ${dir}: ${k} is ${have[k]}, this run has ${shape[k]}`);
  }
  return fromCanonical(shape, readCanonicalTensors(ck.weights));
}
