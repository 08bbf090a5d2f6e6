/**
 * Cutting a batched decode head back into the heads of the calls that were batched together:
 * rows [row, row + batch) of it, and of each row its first `length` positions.
 */
import type { DecodeHeadOutput } from './types.js';

export function headRows(head: DecodeHeadOutput, row: number, batch: number, length: number, withLogits: boolean): DecodeHeadOutput {
  const { k, vocabSize: V } = head;
  const L = head.length;
  const out: DecodeHeadOutput = {
    batch,
    length,
    k,
    topkIds: new Int32Array(batch * length * k),
    topkProbs: new Float32Array(batch * length * k),
    entropy: new Float32Array(batch * length),
    vocabSize: V,
  };
  if (withLogits && head.logits) out.logits = new Float32Array(batch * length * V);
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
