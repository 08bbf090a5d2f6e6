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
  /** Int32 counter: the last MaterializeRequest.seq handed over */
  handOverSeq: SharedArrayBuffer;
  /** directory that the model's external-data locations are relative to */
  externalDataDir?: string;
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
  feeds: Record<string, WireTensor | ResidentRef>;
  fetches: string[];
  /** int64 outputs to narrow to Int32Array in the worker (ids; saves the main thread a loop) */
  int32Outputs?: string[];
  /**
   * float32 outputs to keep in the worker under the given id instead of returning them (ORT
   * writes them into buffers the worker preallocates with `dims`)
   */
  keep?: Record<string, { id: number; dims: number[] }>;
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

export type WorkerRequest = OpenRequest | RunRequest | DeriveRequest | MaterializeRequest | ReleaseRequest | DisposeRequest;

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

export type WorkerReply = OpenedReply | ResultReply | ErrorReply | DisposedReply;
