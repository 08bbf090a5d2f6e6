/**
 * Round-to-nearest block quantization in the layout of ONNX Runtime's MatMulNBits and
 * GatherBlockQuantized (com.microsoft): weights W [N, K] (HF linear layout, which is exactly what
 * MatMulNBits wants: one row per output), blocks of `blockSize` along K, one float scale per
 * block, the ops' implicit zero point 2^(bits-1) (8 for int4, 128 for int8). A row's blocks are
 * padded to whole blocks, so `packed` is [N, blocksPerRow, blockSize * bits / 8].
 *
 * int4 is symmetric as in ORT's own quantizer: the block's largest-magnitude value v maps to
 * code 0, i.e. scale = v / -8, so the extreme value is represented exactly and the opposite side
 * reaches +7 steps. Two codes per byte, the element with the lower index in the low nibble.
 *
 * int8 uses scale = max|x| / 127: both signs reach the block's extreme with no clipping (codes
 * 1..255); at 8 bits the one level given up costs less than clipping the opposite extreme would.
 */

export type QuantBits = 4 | 8;

export interface BlockQuantized {
  bits: QuantBits;
  /** [N, blocksPerRow, blockSize * bits / 8] codes */
  packed: Uint8Array;
  /** [N * blocksPerRow] */
  scales: Float32Array;
  n: number;
  k: number;
  blockSize: number;
  blocksPerRow: number;
}

/** The int4 form (kept under its first name). */
export type Int4Weights = BlockQuantized;

export function quantizeBlocks(w: Float32Array, n: number, k: number, bits: QuantBits, blockSize = 32): BlockQuantized {
  const what = `quantize (${bits} bits)`;
  if (bits !== 4 && bits !== 8) throw new Error(`${what}: bits must be 4 or 8`);
  if (w.length !== n * k) throw new Error(`${what}: ${w.length} values for [${n}, ${k}]`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`${what}: block size ${blockSize} must be a power of two >= 16`);
  const blocksPerRow = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * blocksPerRow * blob);
  const scales = new Float32Array(n * blocksPerRow);
  const codes = new Uint8Array(blockSize);
  const zero = 1 << (bits - 1);
  const top = (1 << bits) - 1;
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = row * k + b * blockSize;
      const count = Math.min(blockSize, k - b * blockSize);
      let vmax = 0;
      for (let i = 0; i < count; i++) {
        const x = w[start + i]!;
        if (Math.abs(x) > Math.abs(vmax)) vmax = x;
      }
      const scale = Math.fround(bits === 4 ? vmax / -8 : Math.abs(vmax) / 127);
      const inv = scale !== 0 ? 1 / scale : 0;
      for (let i = 0; i < blockSize; i++) {
        const x = i < count ? w[start + i]! : 0;
        const q = Math.round(x * inv + zero);
        codes[i] = q < 0 ? 0 : q > top ? top : q;
      }
      const out = (row * blocksPerRow + b) * blob;
      if (bits === 8) packed.set(codes, out);
      else for (let i = 0; i < blob; i++) packed[out + i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
      scales[row * blocksPerRow + b] = scale;
    }
  }
  return { bits, packed, scales, n, k, blockSize, blocksPerRow };
}

export function quantizeInt4(w: Float32Array, n: number, k: number, blockSize = 32): BlockQuantized {
  return quantizeBlocks(w, n, k, 4, blockSize);
}

export function quantizeInt8(w: Float32Array, n: number, k: number, blockSize = 32): BlockQuantized {
  return quantizeBlocks(w, n, k, 8, blockSize);
}

/** The float weights a BlockQuantized stands for (for tests and error estimates). */
export function dequantizeBlocks(q: BlockQuantized): Float32Array {
  const out = new Float32Array(q.n * q.k);
  const blob = (q.blockSize * q.bits) / 8;
  const zero = 1 << (q.bits - 1);
  for (let row = 0; row < q.n; row++) {
    for (let b = 0; b < q.blocksPerRow; b++) {
      const scale = q.scales[row * q.blocksPerRow + b]!;
      const base = (row * q.blocksPerRow + b) * blob;
      for (let i = 0; i < q.blockSize; i++) {
        const col = b * q.blockSize + i;
        if (col >= q.k) break;
        let code: number;
        if (q.bits === 8) code = q.packed[base + i]!;
        else {
          const byte = q.packed[base + (i >> 1)]!;
          code = i & 1 ? byte >> 4 : byte & 15;
        }
        out[row * q.k + col] = (code - zero) * scale;
      }
    }
  }
  return out;
}

export const dequantizeInt4 = dequantizeBlocks;
