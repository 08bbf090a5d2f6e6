/**
 * Architecture tensor names → the normalized ModelWeights, with validation.
 *
 * One table (`tensorLayout`) lists, for every architecture, each tensor's canonical name, its name
 * inside the checkpoint (from the architecture's `tensors` trait, architectures.ts) and its exact
 * shape. Both the loader (resolveWeights) and the writer (checkpoint.ts) use it, so the two can
 * never disagree about a name or a shape.
 *
 * Canonical names mirror ModelWeights' field paths: `embed`, `finalNorm`, `lmHead`, and
 * `layers.<i>.<field>` with the fields of LayerWeights (`attnNorm`, `q`, `k`, `v`, `o`, `qBias`,
 * `kBias`, `vBias`, `qNorm`, `kNorm`, `ffnNorm`, `gate`, `up`, `down`).
 */
import { closeSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { CheckpointError } from '../errors.js';
import { ARCHITECTURES } from './architectures.js';
import { readFully } from './file-io.js';
import { readTensorF32, type TensorEntry } from './safetensors.js';
import type { LayerWeights, ModelConfig, ModelWeights } from './types.js';

export type LayerField = keyof LayerWeights;

/** One tensor of an architecture's layout. */
export interface TensorSpec {
  /** `embed`, `finalNorm`, `lmHead` or `layers.<i>.<field>` */
  canonical: string;
  /** The tensor's name in the architecture's own checkpoints. */
  name: string;
  shape: number[];
}

/** The hyper-parameters that determine tensor names and shapes. */
export type LayoutDims = Pick<
  ModelConfig,
  'architecture' | 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'tieWordEmbeddings' | 'attentionBias' | 'qkNorm'
>;

/**
 * Every tensor the architecture's checkpoint must hold, in a stable order (embedding, layers,
 * final norm, lm head). When embeddings are tied there is no `lmHead` entry.
 */
export function tensorLayout(d: LayoutDims): TensorSpec[] {
  const names = ARCHITECTURES[d.architecture].tensors;
  const H = d.hiddenSize;
  const qOut = d.numHeads * d.headDim;
  const kvOut = d.numKvHeads * d.headDim;
  const I = d.intermediateSize;
  const shapes: Record<LayerField, number[]> = {
    attnNorm: [H], q: [qOut, H], k: [kvOut, H], v: [kvOut, H], o: [H, qOut],
    qBias: [qOut], kBias: [kvOut], vBias: [kvOut], qNorm: [d.headDim], kNorm: [d.headDim],
    ffnNorm: [H], gate: [I, H], up: [I, H], down: [H, I],
  };
  const fields: LayerField[] = ['attnNorm', 'q', 'k', 'v', 'o'];
  if (d.attentionBias) fields.push('qBias', 'kBias', 'vBias');
  if (d.qkNorm) fields.push('qNorm', 'kNorm');
  fields.push('ffnNorm', 'gate', 'up', 'down');
  const specs: TensorSpec[] = [{ canonical: 'embed', name: names.embed, shape: [d.vocabSize, H] }];
  for (let i = 0; i < d.numLayers; i++) {
    const layerPrefix = names.layer(i);
    for (const f of fields) {
      const suffix = names.layerFields[f];
      if (suffix === undefined) throw new Error(`internal: ${d.architecture} has no tensor for ${f}`);
      specs.push({ canonical: `layers.${i}.${f}`, name: layerPrefix + suffix, shape: shapes[f] });
    }
  }
  specs.push({ canonical: 'finalNorm', name: names.finalNorm, shape: [H] });
  if (!d.tieWordEmbeddings) specs.push({ canonical: 'lmHead', name: names.lmHead, shape: [d.vocabSize, H] });
  return specs;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** "model.safetensors" or "model-00001-of-00002.safetensors, ..." — where we looked. */
function describeSources(table: Map<string, TensorEntry>): string {
  const files = [...new Set([...table.values()].map((e) => e.file))];
  if (files.length === 0) return 'an empty tensor table';
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} (+${files.length - 3} more files)` : shown;
}

/**
 * Map the architecture's tensors to ModelWeights, checking that each is present, has exactly the
 * shape the config implies, and is F32/F16/BF16. Extra tensors (e.g. rotary buffers) are ignored.
 */
export function resolveWeights(config: ModelConfig, table: Map<string, TensorEntry>): ModelWeights {
  const byCanonical = new Map<string, TensorEntry>();
  for (const spec of tensorLayout(config)) {
    const entry = table.get(spec.name);
    if (!entry) {
      throw new CheckpointError(
        `tensor '${spec.name}' (${config.architecture} ${spec.canonical}) is missing from ${describeSources(table)}`,
      );
    }
    const where = `${basename(entry.file)}: tensor '${entry.name}'`;
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      throw new CheckpointError(`${where} has dtype ${entry.dtype}; expected F32, F16 or BF16 (file ${entry.file})`);
    }
    if (entry.shape.length !== spec.shape.length || entry.shape.some((n, i) => n !== spec.shape[i])) {
      throw new CheckpointError(
        `${where} has shape ${JSON.stringify(entry.shape)}, expected ${JSON.stringify(spec.shape)} from the config (file ${entry.file})`,
      );
    }
    byCanonical.set(spec.canonical, entry);
  }
  const get = (canonical: string): TensorEntry => {
    const e = byCanonical.get(canonical);
    if (!e) throw new Error(`internal: no tensor for ${canonical}`);
    return e;
  };
  const optional = (canonical: string): TensorEntry | undefined => byCanonical.get(canonical);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `layers.${i}.`;
    const layer: LayerWeights = {
      attnNorm: get(p + 'attnNorm'), q: get(p + 'q'), k: get(p + 'k'), v: get(p + 'v'), o: get(p + 'o'),
      ffnNorm: get(p + 'ffnNorm'), gate: get(p + 'gate'), up: get(p + 'up'), down: get(p + 'down'),
    };
    for (const f of ['qBias', 'kBias', 'vBias', 'qNorm', 'kNorm'] as const) {
      const e = optional(p + f);
      if (e) layer[f] = e;
    }
    layers.push(layer);
  }
  const embed = get('embed');
  return { embed, layers, finalNorm: get('finalNorm'), lmHead: config.tieWordEmbeddings ? embed : get('lmHead') };
}

/** ModelWeights as (canonical name, entry) pairs; a tied lm head appears once, as `embed`. */
export function canonicalEntries(weights: ModelWeights): [string, TensorEntry][] {
  const out: [string, TensorEntry][] = [['embed', weights.embed]];
  weights.layers.forEach((layer, i) => {
    for (const [field, entry] of Object.entries(layer) as [LayerField, TensorEntry | undefined][]) {
      if (entry) out.push([`layers.${i}.${field}`, entry]);
    }
  });
  out.push(['finalNorm', weights.finalNorm]);
  if (weights.lmHead !== weights.embed) out.push(['lmHead', weights.lmHead]);
  return out;
}

/** Decode every weight to F32, keyed by canonical name (what the trainer and tests want). */
export function readCanonicalTensors(weights: ModelWeights): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, entry] of canonicalEntries(weights)) out[name] = readTensorF32(entry);
  return out;
}

const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Throw a CheckpointError naming the first tensor that holds a NaN or an infinity.
 *
 * Streams each tensor in 8 MiB chunks so memory stays flat for any model size. Rather than
 * decoding F16/BF16 to floats it tests the exponent bits, which is exact (a value is NaN or Inf
 * iff its exponent field is all ones) and several times faster: a 100M-parameter F32 model is
 * scanned in well under a second from the page cache. `progress` hears the bytes scanned after each
 * tensor, of the total.
 */
export function checkFinite(weights: ModelWeights, progress?: (bytesDone: number, bytesTotal: number) => void): void {
  const buffer = new ArrayBuffer(CHUNK_BYTES);
  const bytes = new Uint8Array(buffer);
  const fds = new Map<string, number>();
  const entries = canonicalEntries(weights);
  const total = entries.reduce((n, [, e]) => n + e.byteLength, 0);
  let scanned = 0;
  try {
    for (const [canonical, entry] of entries) {
      let fd = fds.get(entry.file);
      if (fd === undefined) {
        try {
          fd = openSync(entry.file, 'r');
        } catch (e) {
          throw new CheckpointError(`${entry.file}: cannot open (${(e as Error).message})`, { cause: e });
        }
        fds.set(entry.file, fd);
      }
      if (!FLOAT_DTYPES.has(entry.dtype)) {
        throw new CheckpointError(`${entry.file}: tensor '${entry.name}' has dtype ${entry.dtype}; expected F32, F16 or BF16`);
      }
      const elemBytes = entry.dtype === 'F32' ? 4 : 2;
      for (let done = 0; done < entry.byteLength; ) {
        const want = Math.min(CHUNK_BYTES, entry.byteLength - done);
        readFully(fd, bytes.subarray(0, want), entry.offset + done, `${entry.file}: tensor '${entry.name}'`);
        const count = want / elemBytes;
        let bad = -1;
        if (entry.dtype === 'F32') {
          const u = new Uint32Array(buffer, 0, count);
          for (let i = 0; i < count; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) { bad = i; break; }
        } else {
          const mask = entry.dtype === 'F16' ? 0x7c00 : 0x7f80;
          const u = new Uint16Array(buffer, 0, count);
          for (let i = 0; i < count; i++) if ((u[i]! & mask) === mask) { bad = i; break; }
        }
        if (bad >= 0) {
          throw new CheckpointError(
            `${entry.file}: tensor '${entry.name}' (${canonical}) contains NaN or Inf (first at element ${done / elemBytes + bad})`,
          );
        }
        done += want;
      }
      scanned += entry.byteLength;
      progress?.(scanned, total);
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
}
