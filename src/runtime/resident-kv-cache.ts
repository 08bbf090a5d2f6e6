/**
 * A KV cache that lives in the model's session worker, made by the compiled models
 * (bidirectional-model.ts, causal-model.ts): feeding it back to a forward, truncating or
 * composing it moves no bytes between threads.
 */
import type { ResidentTensor } from './session.js';
import type { KvCache } from './types.js';

/**
 * A KV cache that lives in the model's session worker. `keys` and `values` are ordinary
 * Float32Arrays to anyone who reads them, but they are only copied to the main thread on first
 * read (decoders usually never read them: they pass caches back to `forward` and truncate them,
 * both of which stay inside the worker). Immutable, like every KvCache.
 */
export class ResidentKvCache implements KvCache {
  declare readonly keys: Float32Array[];
  declare readonly values: Float32Array[];

  constructor(
    readonly batch: number,
    readonly length: number,
    /** per layer: key, value (the worker's tensors) */
    readonly keyTensors: readonly ResidentTensor[],
    readonly valueTensors: readonly ResidentTensor[],
  ) {
    let keys: Float32Array[] | undefined;
    let values: Float32Array[] | undefined;
    // (the first read hands the whole cache over in one round trip: see OrtSession.awaitHandOver)
    const read = (ts: readonly ResidentTensor[]): Float32Array[] => ts.map((t) => t.read());
    // own enumerable accessors, so `{ ...cache }` and JSON see them like plain fields
    Object.defineProperty(this, 'keys', { enumerable: true, get: () => (keys ??= read(keyTensors)) });
    Object.defineProperty(this, 'values', { enumerable: true, get: () => (values ??= read(valueTensors)) });
  }

  /** The cache a forward kept in the worker: its `present.N.key` / `present.N.value` outputs. */
  static fromOutputs(resident: Record<string, ResidentTensor>, batch: number, length: number, numLayers: number): ResidentKvCache {
    const keys: ResidentTensor[] = [];
    const values: ResidentTensor[] = [];
    for (let i = 0; i < numLayers; i++) {
      keys.push(resident[`present.${i}.key`]!);
      values.push(resident[`present.${i}.value`]!);
    }
    return new ResidentKvCache(batch, length, keys, values);
  }

  /** The cache of tensors in `tensors` order (every layer's key, then every layer's value), as compose/derive return them. */
  static fromTensors(batch: number, length: number, tensors: readonly ResidentTensor[], numLayers: number): ResidentKvCache {
    return new ResidentKvCache(batch, length, tensors.slice(0, numLayers), tensors.slice(numLayers));
  }

  /** Every layer's key tensor, then every layer's value tensor (the order compose/derive use). */
  get tensors(): ResidentTensor[] {
    return [...this.keyTensors, ...this.valueTensors];
  }
}
