/**
 * The data type a model's weights are held in: the user-facing name of a graph's Quantization.
 *
 * - fp32: the checkpoint's weights as float32 (F16/BF16 checkpoints are widened at load).
 * - int8 / int4: every linear and the embedding block-quantized at compile time (compile.ts).
 *
 * fp16 is not offered: ONNX Runtime 1.30's CPU provider holds fp16 weights as float32 whether
 * they enter the graph through a Cast (constant-folded at load) or feed an fp16 MatMul, so an fp16
 * graph needs the memory of an fp32 one (measured: 8 × [4096, 4096] weights, 538 MB at fp32,
 * 539 MB through a Cast, 540 MB through fp16 MatMul; docs/scale.md "Data types").
 */
import { OptionError } from '../errors.js';
import type { Quantization } from './compile.js';

export type Dtype = 'fp32' | 'int8' | 'int4';

/** Most precise first: the order the default choice tries them in. */
export const DTYPES: readonly Dtype[] = ['fp32', 'int8', 'int4'];

const QUANTIZATION: Record<Dtype, Quantization> = { fp32: 'none', int8: 'int8', int4: 'int4' };

export function quantizationOf(dtype: Dtype): Quantization {
  return QUANTIZATION[dtype];
}

export function dtypeOf(quantize: Quantization): Dtype {
  const dtype = (Object.keys(QUANTIZATION) as Dtype[]).find((d) => QUANTIZATION[d] === quantize);
  if (!dtype) throw new OptionError(`quantize must be one of ${Object.values(QUANTIZATION).map((q) => `'${q}'`).join(', ')}, got '${String(quantize)}'`);
  return dtype;
}

/**
 * A dtype given as text (`--dtype`, an option): 'auto' when `allowAuto`, else one of DTYPES; an
 * error naming `what` and the choices otherwise, and saying why fp16 is missing.
 */
export function parseDtype(value: string, what: string, allowAuto: true): Dtype | 'auto';
export function parseDtype(value: string, what: string, allowAuto?: false): Dtype;
export function parseDtype(value: string, what: string, allowAuto = false): Dtype | 'auto' {
  if (allowAuto && value === 'auto') return 'auto';
  if ((DTYPES as readonly string[]).includes(value)) return value as Dtype;
  const choices = `${allowAuto ? 'auto, ' : ''}${DTYPES.join(', ')}`;
  if (value === 'fp16' || value === 'bf16') {
    throw new OptionError(`${what} ${value} is not offered: ONNX Runtime's CPU kernels hold 16-bit weights as fp32, so it would need the memory of fp32; int8 needs about a third (choices: ${choices})`);
  }
  throw new OptionError(`${what} must be one of ${choices} (got '${value}')`);
}
