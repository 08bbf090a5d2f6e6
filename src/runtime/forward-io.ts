/**
 * The tensors a forward exchanges with its ONNX session, shared by the compiled models
 * (bidirectional-model.ts, causal-model.ts; the in-process drafter uses the parts that do not
 * depend on the worker): the checks on token ids and positions, the int64 feeds made from them,
 * the names of the KV outputs, and the decode head read back from the outputs.
 */
import { InputError } from '../errors.js';
import { HEAD_OUTPUTS } from './compile.js';
import type { WireTensor } from './session.js';
import type { DecodeHeadOutput } from './types.js';

/** Timing of the most recent forward, for benchmarks: wall time vs time inside ORT's run. */
export interface ForwardTiming {
  wallMs: number;
  runMs: number;
}

/** The decode head's outputs every forward fetches (logits only when asked for). */
export const HEAD_FETCHES = [HEAD_OUTPUTS.topkIds, HEAD_OUTPUTS.topkProbs, HEAD_OUTPUTS.entropy];

export function checkTokens(what: string, tokens: Int32Array, batch: number, length: number, vocabSize: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new InputError(`${what}: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(length) || length < 1) throw new InputError(`${what}: length must be a positive integer, got ${length}`);
  if (tokens.length !== batch * length) {
    throw new InputError(`${what}: ${tokens.length} tokens given for batch ${batch} × length ${length} (${batch * length})`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t < 0 || t >= vocabSize) {
      throw new InputError(`${what}: token ${t} at row ${Math.floor(i / length)}, position ${i % length} is outside the vocabulary (0..${vocabSize - 1})`);
    }
  }
}

/** Explicit positions (RoPE) must be integers the model has embeddings for. */
export function checkPositions(what: string, positions: Int32Array, maxPositions: number): void {
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0 || p >= maxPositions) throw new InputError(`${what}: position ${p} is outside the model's 0..${maxPositions - 1}`);
  }
}

export function ids64(tokens: Int32Array): BigInt64Array<ArrayBuffer> {
  const out = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[i] = BigInt(tokens[i]!);
  return out;
}

/** A 0/1 mask as the graphs take it: int64, 1 wherever `flags` is non-zero. */
export function mask64(flags: Uint8Array): BigInt64Array<ArrayBuffer> {
  const out = new BigInt64Array(flags.length);
  for (let i = 0; i < out.length; i++) out[i] = flags[i] ? 1n : 0n;
  return out;
}

/** position_ids [batch, newLength] of new tokens that follow `past` cached positions in every row. */
export function positionIds(batch: number, newLength: number, past: number): BigInt64Array<ArrayBuffer> {
  const pos = new BigInt64Array(batch * newLength);
  for (let b = 0; b < batch; b++) for (let j = 0; j < newLength; j++) pos[b * newLength + j] = BigInt(past + j);
  return pos;
}

/** The graphs' KV outputs in layer order: present.0.key, present.0.value, present.1.key, … */
export function presentNames(numLayers: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < numLayers; i++) names.push(`present.${i}.key`, `present.${i}.value`);
  return names;
}

/** `keep` for a run: every one of `names` (KV outputs, all of shape `dims`) stays in the worker. */
export function keepAll(names: readonly string[], dims: number[]): Record<string, number[]> {
  return Object.fromEntries(names.map((n) => [n, dims]));
}

export function toHead(outputs: Record<string, WireTensor>, batch: number, length: number, k: number, vocabSize: number): DecodeHeadOutput {
  const head: DecodeHeadOutput = {
    batch,
    length,
    k,
    topkIds: outputs[HEAD_OUTPUTS.topkIds]!.data as Int32Array,
    topkProbs: outputs[HEAD_OUTPUTS.topkProbs]!.data as Float32Array,
    entropy: outputs[HEAD_OUTPUTS.entropy]!.data as Float32Array,
    vocabSize,
  };
  const logits = outputs[HEAD_OUTPUTS.logits];
  if (logits) head.logits = logits.data as Float32Array;
  return head;
}
