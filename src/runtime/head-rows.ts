/**
 * Decode heads assembled from parts of others: a zeroed head to fill in (the diffusion KV cache
 * puts each row's fresh and kept predictions together in one), and the rows of a batched head cut
 * back into the heads of the calls that were batched together.
 */
import type { DecodeHeadOutput } from './types.js';

/** A head of `batch` × `length` positions, all zero, with room for logits when asked. */
export function emptyHead(batch: number, length: number, k: number, vocabSize: number, withLogits: boolean): DecodeHeadOutput {
  const out: DecodeHeadOutput = {
    batch,
    length,
    k,
    topkIds: new Int32Array(batch * length * k),
    topkProbs: new Float32Array(batch * length * k),
    entropy: new Float32Array(batch * length),
    vocabSize,
  };
  if (withLogits) out.logits = new Float32Array(batch * length * vocabSize);
  return out;
}

/** Rows [row, row + batch) of `head`, and of each row its first `length` positions. */
export function headRows(head: DecodeHeadOutput, row: number, batch: number, length: number, withLogits: boolean): DecodeHeadOutput {
  const { k, vocabSize: V } = head;
  const L = head.length;
  const out = emptyHead(batch, length, k, V, withLogits && head.logits !== undefined);
  for (let b = 0; b < batch; b++) {
    const src = (row + b) * L;
    const dst = b * length;
    out.topkIds.set(head.topkIds.subarray(src * k, (src + length) * k), dst * k);
    out.topkProbs.set(head.topkProbs.subarray(src * k, (src + length) * k), dst * k);
    out.entropy.set(head.entropy.subarray(src, src + length), dst);
    if (out.logits) out.logits.set(head.logits!.subarray(src * V, (src + length) * V), dst * V);
  }
  return out;
}
