/**
 * Large F16/BF16 checkpoints: their weights converted to float32 once, tensor by tensor, into a
 * file of the graph cache (`<cache>/weights/<key>/weights-f32.bin`) that every graph of the
 * checkpoint (main, window, variants) points its initializers into.
 *
 * Why: pointed at a BF16 checkpoint, ONNX Runtime reads each weight in BF16 and folds the graph's
 * Cast to float32 (and the Concat of q/k/v and of gate/up) while the session loads, holding the
 * BF16 weights beside their fp32 copies: 5.6 GB of peak memory and 48–69 s for a 1.9 GB BF16
 * checkpoint whose fp32 form is 3.7 GB, against 3.9 GB and 36 s for the same weights stored F32
 * (docs/scale.md, "Loading large checkpoints"). Here each tensor is decoded 16 MiB at a time and
 * appended to the file, so neither the model nor a whole tensor is ever in memory; the
 * row-stacked linears (q/k/v, their biases, gate/up) are written one after another, which in HF's
 * [out, in] layout is their concatenation, so ORT folds nothing and loads fp32 bytes as they
 * are. The values are exactly those of the Cast and Concat (F16 and BF16 widen to fp32 exactly):
 * outputs do not change.
 *
 * The file is keyed by the checkpoint files' identity (path, size, mtime, inode: its bytes are
 * baked in, as an int4 bundle's) and the tensor table, built in a temporary directory and renamed
 * into place (concurrent loads never see half a file), and rebuilt if deleted. Building a new one
 * for a checkpoint directory removes that directory's older ones (its files have changed since),
 * so edits do not pile up copies of a model on disk.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, RuntimeFailure } from '../errors.js';
import { writeFully } from '../model/file-io.js';
import { readTensorF32Pieces, type TensorEntry } from '../model/safetensors.js';
import type { ModelWeights } from '../model/types.js';
import type { ElemType, Graph } from './graph.js';
import type { WeightStore } from './weight-store.js';

/** Bytes of checkpoint weights converted so far, of how many. */
export type WeightProgress = (bytesDone: number, bytesTotal: number) => void;

/** Bumped whenever the file's layout changes. */
const BUNDLE_VERSION = 1;
const FILE = 'weights-f32.bin';
const MANIFEST = 'manifest.json';
/** Each blob starts on a page, so ORT may map any tensor straight from the file (safetensors promises 8 bytes). */
const ALIGN = 4096;

/**
 * Checkpoints below this many bytes keep pointing into their own files: ORT's optimized-model
 * cache (compile.ts, OPTIMIZED_CACHE_MAX_BYTES) already holds their folded fp32 weights, and
 * their fold costs little.
 */
export const FLOAT32_BUNDLE_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Whether a graph of these weights (files of `fileBytes` in all, not quantized) loads from a
 * float32 bundle: when some weight is not F32 and, unless `choice` says, the files are large.
 */
export function wantsFloat32Bundle(w: ModelWeights, fileBytes: number, choice?: boolean): boolean {
  if (choice === false || !bundleGroups(w).some((g) => g.some((e) => e.dtype !== 'F32'))) return false;
  return choice === true || fileBytes > FLOAT32_BUNDLE_MIN_BYTES;
}

/**
 * Every blob of the file, in order: a tensor alone, or tensors stacked by rows exactly as the
 * graph builder consumes them (compile.ts `linear`): q/k/v, their biases when all three exist,
 * gate/up. A tied lm head is the embedding's blob.
 */
export function bundleGroups(w: ModelWeights): TensorEntry[][] {
  const groups: TensorEntry[][] = [[w.embed]];
  for (const L of w.layers) {
    groups.push([L.attnNorm], [L.q, L.k, L.v]);
    if (L.qBias && L.kBias && L.vBias) groups.push([L.qBias, L.kBias, L.vBias]);
    if (L.qNorm) groups.push([L.qNorm]);
    if (L.kNorm) groups.push([L.kNorm]);
    groups.push([L.o], [L.ffnNorm], [L.gate, L.up], [L.down]);
  }
  groups.push([w.finalNorm]);
  if (w.lmHead !== w.embed) groups.push([w.lmHead]);
  return groups;
}

function blobKey(es: readonly TensorEntry[]): string {
  return es.map((e) => e.name).join('+');
}

interface Blob {
  offset: number;
  length: number;
  dims: number[];
}

interface Manifest {
  version: number;
  /** the checkpoint directory it was converted from (to remove this directory's stale bundles) */
  checkpointDir: string;
  created: string;
  blobs: Record<string, Blob>;
}

/** Where a checkpoint's bundle lives, and what it holds. */
export interface Float32BundlePlan {
  key: string;
  dir: string;
  checkpointDir: string;
  groups: TensorEntry[][];
  /** checkpoint bytes the conversion reads */
  sourceBytes: number;
}

/**
 * The bundle for these weights: its key hashes everything its bytes depend on (the files'
 * identity, each tensor's place and dtype, the groups, the layout version).
 */
export function planFloat32Bundle(cacheRoot: string, w: ModelWeights, checkpointDir: string, identity: readonly (readonly [string, number, number, number, ...unknown[]])[]): Float32BundlePlan {
  const groups = bundleGroups(w);
  const files = identity.map(([f, size, mtimeMs, ino]) => [f, size, mtimeMs, ino]);
  const tensors = groups.map((g) => g.map((e) => [e.name, e.file, e.dtype, e.shape, e.offset, e.byteLength]));
  const key = createHash('sha256').update(JSON.stringify({ v: BUNDLE_VERSION, files, tensors })).digest('hex').slice(0, 32);
  const sourceBytes = groups.reduce((n, g) => n + g.reduce((m, e) => m + e.byteLength, 0), 0);
  return { key, dir: join(cacheRoot, 'weights', key), checkpointDir, groups, sourceBytes };
}

/**
 * The bundle's manifest, converting the checkpoint first when the bundle is not on disk yet
 * (reporting progress in checkpoint bytes read).
 */
export function ensureFloat32Bundle(plan: Float32BundlePlan, progress?: WeightProgress): Manifest {
  const manifestFile = join(plan.dir, MANIFEST);
  if (existsSync(manifestFile) && existsSync(join(plan.dir, FILE))) return JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  const tmp = `${plan.dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    let manifest: Manifest;
    try {
      mkdirSync(tmp, { recursive: true });
      manifest = writeBundle(tmp, plan, progress);
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      // disk full, a read-only cache: say where, how much, and the ways out
      throw new RuntimeFailure(
        `converting ${plan.checkpointDir} to float32 in ${plan.dir} failed (${(e as Error).message}); it needs about ${Math.ceil((plan.sourceBytes * 2) / 1e6)} MB of disk there: free some, point PARADEC_CACHE elsewhere, or pass float32Bundle: false`,
        { cause: e },
      );
    }
    writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest));
    try {
      renameSync(tmp, plan.dir);
    } catch (e) {
      // another process finished the same bundle first: use theirs
      if (!existsSync(manifestFile)) throw e;
      rmSync(tmp, { recursive: true, force: true });
      return JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    }
    removeStaleBundles(plan);
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function writeBundle(dir: string, plan: Float32BundlePlan, progress?: WeightProgress): Manifest {
  const fd = openSync(join(dir, FILE), 'w');
  const blobs: Record<string, Blob> = {};
  let position = 0;
  let done = 0;
  try {
    for (const group of plan.groups) {
      const first = group[0]!;
      const tail = first.shape.slice(1);
      for (const e of group) {
        if (e.shape.length !== first.shape.length || e.shape.slice(1).some((d, i) => d !== tail[i])) {
          throw new CheckpointError(`${e.file}: tensor '${e.name}' has shape ${JSON.stringify(e.shape)}; it cannot be stacked under '${first.name}' ${JSON.stringify(first.shape)}`);
        }
      }
      const pad = (ALIGN - (position % ALIGN)) % ALIGN;
      if (pad) writeFully(fd, new Uint8Array(pad), position);
      position += pad;
      const offset = position;
      for (const e of group) {
        for (const piece of readTensorF32Pieces(e)) {
          writeFully(fd, new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength), position);
          position += piece.byteLength;
        }
        done += e.byteLength;
        progress?.(done, plan.sourceBytes);
      }
      const dims = group.length === 1 ? [...first.shape] : [group.reduce((n, e) => n + (e.shape[0] ?? 1), 0), ...tail];
      blobs[blobKey(group)] = { offset, length: position - offset, dims };
    }
  } finally {
    closeSync(fd);
  }
  return { version: BUNDLE_VERSION, checkpointDir: plan.checkpointDir, created: new Date().toISOString(), blobs };
}

/** Other bundles of the same checkpoint directory are of files that have changed since: remove them. */
function removeStaleBundles(plan: Float32BundlePlan): void {
  const root = join(plan.dir, '..');
  for (const name of readdirSync(root)) {
    if (name === plan.key || name.includes('.tmp-')) continue;
    try {
      const other = JSON.parse(readFileSync(join(root, name, MANIFEST), 'utf8')) as Manifest;
      if (other.checkpointDir === plan.checkpointDir) rmSync(join(root, name), { recursive: true, force: true });
    } catch {
      // not a bundle, or one being removed by someone else: leave it
    }
  }
}

/** Initializers from a float32 bundle: every weight is fp32 already, stacked groups are one blob. */
export class Float32BundleStore implements WeightStore {
  private readonly seen = new Map<string, string>();

  constructor(private readonly manifest: Manifest) {}

  float(g: Graph, e: TensorEntry): string {
    return this.floatRows(g, [e]);
  }

  floatRows(g: Graph, es: readonly TensorEntry[]): string {
    const key = blobKey(es);
    const hit = this.seen.get(key);
    if (hit) return hit;
    const blob = this.manifest.blobs[key];
    if (!blob) throw new Error(`internal: the float32 bundle has no blob '${key}' (bundleGroups and the graph builder disagree)`);
    const name = g.external(key, 'float32', blob.dims, { location: FILE, offset: blob.offset, length: blob.length });
    this.seen.set(key, name);
    return name;
  }

  data(_g: Graph, hint: string, _type: ElemType, _dims: readonly number[], _bytes: Uint8Array): string {
    throw new Error(`internal: a float32 bundle holds checkpoint weights only, not '${hint}'`);
  }
}
