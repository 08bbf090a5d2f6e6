/**
 * The decode head computed in JavaScript from full logits. The compiled graphs compute the same
 * outputs inside ONNX Runtime; this version serves the paths that must see full logits anyway
 * (classifier-free guidance, temperature sampling) and the scripted test models.
 */
import type { DecodeHeadOutput } from '../runtime/types.js';

export function headFromLogits(logits: Float32Array, batch: number, length: number, vocabSize: number, k: number): DecodeHeadOutput {
  const kk = Math.min(k, vocabSize);
  const topkIds = new Int32Array(batch * length * kk);
  const topkProbs = new Float32Array(batch * length * kk);
  const entropy = new Float32Array(batch * length);
  const probs = new Float64Array(vocabSize);
  for (let r = 0; r < batch * length; r++) {
    const base = r * vocabSize;
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[base + v]!);
    let sum = 0;
    for (let v = 0; v < vocabSize; v++) {
      const e = Math.exp(logits[base + v]! - max);
      probs[v] = e;
      sum += e;
    }
    let h = 0;
    for (let v = 0; v < vocabSize; v++) {
      const p = probs[v]! / sum;
      probs[v] = p;
      if (p > 0) h -= p * Math.log(p);
    }
    entropy[r] = h;
    // partial selection of the k largest; ties broken by lower id (as ONNX TopK does)
    const chosen: number[] = [];
    for (let j = 0; j < kk; j++) {
      let best = -1;
      for (let v = 0; v < vocabSize; v++) {
        if (chosen.includes(v)) continue;
        if (best < 0 || logits[base + v]! > logits[base + best]!) best = v;
      }
      chosen.push(best);
      topkIds[r * kk + j] = best;
      topkProbs[r * kk + j] = probs[best]!;
    }
  }
  return { batch, length, k: kk, topkIds, topkProbs, entropy, logits, vocabSize };
}

/** Softmax of one row of logits (float64 for stable small probabilities). */
export function softmaxRow(logits: Float32Array, offset: number, vocabSize: number, temperature = 1): Float64Array {
  const out = new Float64Array(vocabSize);
  let max = -Infinity;
  for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocabSize; v++) {
    const e = Math.exp((logits[offset + v]! - max) / temperature);
    out[v] = e;
    sum += e;
  }
  for (let v = 0; v < vocabSize; v++) out[v] = out[v]! / sum;
  return out;
}
