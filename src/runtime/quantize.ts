/**
 * Round-to-nearest int4 quantization in the layout of ONNX Runtime's MatMulNBits (com.microsoft):
 * weights W [N, K] (HF linear layout, which is exactly what MatMulNBits wants: one row per
 * output), blocks of `blockSize` along K, one float scale per block, implicit zero point 8.
 *
 * Symmetric as in ORT's own quantizer: the block's largest-magnitude value v maps to code 0,
 * i.e. scale = v / -8, so the extreme value is represented exactly and the opposite side reaches
 * +7 steps. Two codes per byte, the element with the lower index in the low nibble.
 */

export interface Int4Weights {
  /** [N, blocksPerRow, blockSize / 2] packed codes */
  packed: Uint8Array;
  /** [N * blocksPerRow] */
  scales: Float32Array;
  n: number;
  k: number;
  blockSize: number;
  blocksPerRow: number;
}

export function quantizeInt4(w: Float32Array, n: number, k: number, blockSize = 32): Int4Weights {
  if (w.length !== n * k) throw new Error(`quantizeInt4: ${w.length} values for [${n}, ${k}]`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`quantizeInt4: block size ${blockSize} must be a power of two >= 16`);
  const blocksPerRow = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(n * blocksPerRow * blob);
  const scales = new Float32Array(n * blocksPerRow);
  const codes = new Uint8Array(blockSize);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = row * k + b * blockSize;
      const count = Math.min(blockSize, k - b * blockSize);
      let vmax = 0;
      for (let i = 0; i < count; i++) {
        const x = w[start + i]!;
        if (Math.abs(x) > Math.abs(vmax)) vmax = x;
      }
      const scale = Math.fround(vmax / -8);
      const inv = scale !== 0 ? 1 / scale : 0;
      for (let i = 0; i < blockSize; i++) {
        const x = i < count ? w[start + i]! : 0;
        const q = Math.round(x * inv + 8);
        codes[i] = q < 0 ? 0 : q > 15 ? 15 : q;
      }
      const out = (row * blocksPerRow + b) * blob;
      for (let i = 0; i < blob; i++) packed[out + i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
      scales[row * blocksPerRow + b] = scale;
    }
  }
  return { packed, scales, n, k, blockSize, blocksPerRow };
}

/** The float weights an Int4Weights stands for (for tests and error estimates). */
export function dequantizeInt4(q: Int4Weights): Float32Array {
  const out = new Float32Array(q.n * q.k);
  const blob = q.blockSize / 2;
  for (let row = 0; row < q.n; row++) {
    for (let b = 0; b < q.blocksPerRow; b++) {
      const scale = q.scales[row * q.blocksPerRow + b]!;
      const base = (row * q.blocksPerRow + b) * blob;
      for (let i = 0; i < q.blockSize; i++) {
        const col = b * q.blockSize + i;
        if (col >= q.k) break;
        const byte = q.packed[base + (i >> 1)]!;
        const code = i & 1 ? byte >> 4 : byte & 15;
        out[row * q.k + col] = (code - 8) * scale;
      }
    }
  }
  return out;
}
