import type { MessagePort } from 'node:worker_threads';

/**
 * Messages between OrtSession (main thread) and session-worker.ts. Types only: both sides import
 * this file, and the worker must not pull the main-thread module graph in.
 */

export type WireType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

export type WireData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** A tensor as it crosses the thread boundary (typed arrays are copied or transferred). */
export interface WireTensor {
  type: WireType;
  data: WireData;
  dims: number[];
}

export interface WireValueInfo {
  name: string;
  type: string;
  /** numbers for fixed dims, strings for symbolic ones */
  shape: (number | string)[];
}

export type ExecutionProvider = 'cpu' | 'cuda';

export interface OpenRequest {
  type: 'open';
  name: string;
  /** serialized ModelProto (transferred) */
  model: Uint8Array;
  /** where resident tensors are handed over (MaterializeRequest) */
  dataPort: MessagePort;
  /**
   * Two Int32 counters: [0] the last MaterializeRequest.seq handed over; [1] the id of the last
   * run or load the worker finished (its reply is posted), so the main thread can tell without
   * yielding to its event loop whether a run is still computing
   */
  handOverSeq: SharedArrayBuffer;
  /** directory that the model's external-data locations are relative to */
  externalDataDir?: string;
  /** see SessionOptions.optimizedModel */
  optimizedModel?: string;
  threads?: number;
  /** ORT intra-op threads spin-wait between parallel sections (ORT's default: true) */
  spinning?: boolean;
  executionProvider: ExecutionProvider;
}

/** A float32 tensor the worker already holds (an output it kept from an earlier run). */
export interface ResidentRef {
  resident: number;
  dims: number[];
}

export interface RunRequest {
  type: 'run';
  id: number;
  /** which of the worker's graphs (a LoadRequest's name); default: the one opened first */
  graph?: string;
  feeds: Record<string, WireTensor | ResidentRef>;
  fetches: string[];
  /** int64 outputs to narrow to Int32Array in the worker (ids; saves the main thread a loop) */
  int32Outputs?: string[];
  /**
   * float32 outputs to keep in the worker under the given id instead of returning them (ORT
   * writes them into buffers the worker preallocates with `dims`)
   */
  keep?: Record<string, { id: number; dims: number[] }>;
  /**
   * resident tensors the main thread is done with, dropped after this run (queued releases ride
   * along instead of costing a message of their own; never inputs of this run)
   */
  release?: number[];
}

/**
 * Load a further graph into the same worker under `graph`, so runs of either graph share the
 * worker's resident tensors (a diffusion KV cache filled by one graph and read by another).
 * Answered with a ResultReply with no outputs (or an ErrorReply) for `id`.
 */
export interface LoadRequest {
  type: 'load';
  id: number;
  graph: string;
  /** serialized ModelProto (transferred) */
  model: Uint8Array;
  externalDataDir?: string;
  /** see SessionOptions.optimizedModel */
  optimizedModel?: string;
  /** ORT threads spin-wait (default: as the session was opened) */
  spinning?: boolean;
}

/** Where one source tensor's positions go in a ComposeRequest's output. */
export interface ComposeWrite {
  /** source tensors, parallel to ComposeRequest.to, each [rows, heads, length, width] */
  from: number[];
  rows: number;
  length: number;
  /** per source row: the output row it is written to (-1: skipped) */
  targetRows: Int32Array;
  /** per source row and position: the output position (-1: skipped) */
  positions: Int32Array;
}

/**
 * New resident tensors `to[i]` [rows, heads, length, width]: rows of `base[i]` (selected by
 * `rowMap`; -1 or no base: zeros), then the `writes` scattered in, in order. `consume`: the base
 * tensors are released, and their buffers reused in place when the shapes and rows are unchanged
 * (a cache updated step after step is never copied). `release`: ids dropped afterwards.
 */
export interface ComposeRequest {
  type: 'compose';
  to: number[];
  base: number[] | null;
  baseRows: number;
  baseLength: number;
  rows: number;
  heads: number;
  length: number;
  width: number;
  rowMap: Int32Array;
  consume: boolean;
  writes: ComposeWrite[];
  release: number[];
}

/** New resident tensors `to[i]` = the first `newLen` of `oldLen` positions of `from[i]`, per row. */
export interface DeriveRequest {
  type: 'derive';
  from: number[];
  to: number[];
  rows: number;
  oldLen: number;
  newLen: number;
  /** floats per position */
  width: number;
}

/**
 * Hand resident tensors to the main thread: post them on the data port (as `HandOver`), then set
 * the shared counter to `seq` and notify (the main thread may be blocked in Atomics.wait on it).
 * `release`: the worker drops its copies and transfers the buffers themselves (eviction, no
 * copy); otherwise it sends copies and keeps serving the tensors as inputs.
 */
export interface MaterializeRequest {
  type: 'materialize';
  ids: number[];
  seq: number;
  release: boolean;
}

/** What the worker posts on the data port for a MaterializeRequest. */
export interface HandOver {
  seq: number;
  ids: number[];
  /** parallel to ids; null where the worker no longer held the tensor */
  data: (Float32Array | null)[];
}

export interface ReleaseRequest {
  type: 'release';
  ids: number[];
}

export interface DisposeRequest {
  type: 'dispose';
}

export type WorkerRequest = OpenRequest | LoadRequest | RunRequest | DeriveRequest | ComposeRequest | MaterializeRequest | ReleaseRequest | DisposeRequest;

export interface OpenedReply {
  type: 'opened';
  inputs: WireValueInfo[];
  outputs: WireValueInfo[];
}

export interface ResultReply {
  type: 'result';
  id: number;
  outputs: Record<string, WireTensor>;
  /** milliseconds spent inside session.run */
  runMs: number;
}

export interface ErrorReply {
  type: 'error';
  /** the run it belongs to; absent for open failures */
  id?: number;
  message: string;
}

export interface DisposedReply {
  type: 'disposed';
}

/**
 * Sent once, unasked, when the worker's ORT warm-up is over (session-worker.ts): from then on it
 * is idle between requests, and the process may end or terminate it without cutting into ORT's
 * native initialization (which aborts the process: measured, exit 134).
 */
export interface WarmReply {
  type: 'warm';
}

export type WorkerReply = OpenedReply | ResultReply | ErrorReply | DisposedReply | WarmReply;
