/**
 * The interface between the graph builder (compile.ts) and where initializers come from: the
 * checkpoint store and the quantized bundle store (compile.ts) and the float32 bundle
 * (float-bundle.ts). A leaf module, so the stores below the builder need not import it.
 */
import type { TensorEntry } from '../model/safetensors.js';
import type { ElemType, Graph } from './graph.js';

/**
 * Supplies initializers to the builder. The checkpoint store points into the safetensors files;
 * the bundle store (int8, int4) writes a self-contained weights file next to the graph, because an ORT
 * session has a single external-data directory and quantized blobs cannot live in the checkpoint.
 */
export interface WeightStore {
  /** The float32 value of a checkpoint tensor. */
  float(g: Graph, e: TensorEntry): string;
  /**
   * The float32 value of [out, in] tensors (or vectors) stacked by rows, when the store holds
   * them stacked already (float-bundle.ts); otherwise the builder concatenates `float` values.
   */
  floatRows?(g: Graph, es: readonly TensorEntry[]): string;
  /** An initializer from bytes computed at compile time. */
  data(g: Graph, hint: string, type: ElemType, dims: readonly number[], bytes: Uint8Array): string;
  /** The builder has read these tensors itself (quantized them): for progress reports. */
  consumed?(es: readonly TensorEntry[]): void;
}
