/**
 * RoPE frequencies, shared by the reference forward and the graph compiler so both rotate by
 * exactly the same angles. Computed in float64; HF computes them in float32, which differs by
 * far less than any test tolerance for the context lengths paradec runs.
 */
import type { ModelConfig } from './types.js';

/**
 * The `headDim / 2` inverse frequencies θ^(-2j/d), after `rope_scaling` (linear: divided by the
 * factor; llama3: HF's `_compute_llama3_parameters` — long wavelengths divided by the factor,
 * short ones kept, the band between interpolated).
 */
export function ropeInverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = config.headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / Math.pow(config.ropeTheta, (2 * j) / config.headDim);
  const s = config.ropeScaling;
  if (!s) return inv;
  if (s.type === 'linear') {
    for (let j = 0; j < half; j++) inv[j] = inv[j]! / s.factor;
    return inv;
  }
  const lowFreqWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositions / s.highFreqFactor;
  for (let j = 0; j < half; j++) {
    const f = inv[j]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowFreqWavelen) inv[j] = f / s.factor;
    else if (wavelen >= highFreqWavelen) {
      const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[j] = ((1 - smooth) * f) / s.factor + smooth * f;
    }
  }
  return inv;
}

/**
 * Rotate one head vector in place, rotate-half (non-interleaved) convention as in HF Llama and
 * LLaDA: pairs are (j, j + d/2), not (2j, 2j + 1).
 */
export function applyRope(vec: Float64Array, offset: number, headDim: number, position: number, invFreq: Float64Array): void {
  const half = headDim / 2;
  for (let j = 0; j < half; j++) {
    const angle = position * invFreq[j]!;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const a = vec[offset + j]!;
    const b = vec[offset + j + half]!;
    vec[offset + j] = a * cos - b * sin;
    vec[offset + j + half] = b * cos + a * sin;
  }
}
