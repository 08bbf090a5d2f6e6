/**
 * An ONNX Runtime session that runs on a worker thread.
 *
 * onnxruntime-node's `run` executes the whole graph synchronously on the calling thread, so a
 * forward pass on the main thread would freeze the event loop for its duration. Each OrtSession
 * owns one worker holding one InferenceSession; calls are queued there in order.
 *
 * Data: feeds are structured-cloned into the worker (one memcpy; pass `transfer` to hand buffers
 * over instead when the caller no longer needs them), outputs come back transferred (zero-copy).
 * Outputs named in `keep` (KV caches) stay in the worker as ResidentTensors: feeding one back to
 * a later run moves no bytes, and the main thread gets a copy only if it reads one. Bulk data
 * never travels in SharedArrayBuffers: Node 20 does not count them towards GC pressure, so
 * per-step ones pile up (measured: 8 MB per step grew RSS by 3.4 GB over 400 steps, while
 * ArrayBuffers stayed flat). Only a 4-byte hand-over counter is shared.
 *
 * Lifetime: the worker is unref'd whenever no call is pending, so a forgotten session never keeps
 * the process alive; `dispose()` releases the ORT session and ends the thread.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { OptionError, RuntimeFailure } from '../errors.js';
import { startOrt, type OrtRuntime } from './ort-start.js';
import type {
  ComposeRequest, DeriveRequest, ExecutionProvider, LoadRequest, HandOver, MaterializeRequest, OpenRequest, RunRequest, WireTensor, WireValueInfo, WorkerReply, WorkerRequest,
} from './session-protocol.js';

export type { ExecutionProvider, WireTensor, WireType, WireData, WireValueInfo } from './session-protocol.js';

export interface SessionOptions {
  /** intra-op threads (default: ORT's choice, the number of physical cores) */
  threads?: number;
  /**
   * let ORT's intra-op threads spin-wait for work (ORT's default, lowest latency). Off, they
   * sleep between parallel sections: kinder to other threads sharing few cores (benchmarks,
   * several sessions in one process).
   */
  spinning?: boolean;
  /** 'cpu' (default) or 'cuda' (needs the CUDA build of onnxruntime-node) */
  executionProvider?: ExecutionProvider;
  /** directory the model's external-data locations are relative to (default: the model's own) */
  externalDataDir?: string;
  /** what error messages call this session (default: the model path) */
  name?: string;
  /**
   * CPU only: where ORT's optimized form of this model is cached (a path ending in `.onnx`; the
   * worker adds ORT's version). If it exists, the session loads it with graph optimization off;
   * if not, the session optimizes the model as usual and saves the result there. The saved
   * model holds the weights' values (constant folding rewrites them), so the path must identify
   * the weights too; compile.ts names it after the weight files' identity.
   */
  optimizedModel?: string;
  /**
   * How many batches of resident tensors (one per run with `keep`, one per `derivePrefix`) the
   * worker holds at most (default 4). Past the limit the oldest batch leaves the worker: tensors
   * whose handles are still around are handed to the main thread (buffers transferred, no copy),
   * so they stay readable and feedable; handles collected earlier free their worker copy at once.
   */
  residentGenerations?: number;
}

export interface RunOptions {
  /** buffers of `feeds` the caller gives up (they are detached after the call) */
  transfer?: ArrayBuffer[];
  /** int64 outputs to return as Int32Array */
  int32Outputs?: string[];
  /**
   * float32 outputs (with their exact dims) to keep in the worker: they come back in
   * `RunResult.resident`, not in `outputs`, and can be fed to later runs at no cost.
   */
  keep?: Record<string, number[]>;
  /** run a graph added with `loadGraph` (default: the session's own) */
  graph?: string;
}

/** One source of a `compose`: tensors [rows, heads, length, width] and where their positions go. */
export interface ComposeSource {
  /** parallel to the composed tensors */
  tensors: readonly ResidentTensor[];
  rows: number;
  length: number;
  /** per source row: the output row (-1: skipped) */
  targetRows: Int32Array;
  /** per source row and position: the output position (-1: skipped) */
  positions: Int32Array;
}

export interface ComposeSpec {
  /** base tensors, or null for zeros */
  base: readonly ResidentTensor[] | null;
  baseRows: number;
  baseLength: number;
  /** output [rows, heads, length, width] */
  rows: number;
  heads: number;
  length: number;
  width: number;
  /** per output row: the base row it starts from (-1: zeros) */
  rowMap: Int32Array;
  /** the base tensors are released (and updated in place when rows and shape are unchanged) */
  consume: boolean;
  writes: readonly ComposeSource[];
  /** tensors released once the composition is done (typically the sources) */
  release?: readonly ResidentTensor[];
}
export interface RunResult {
  outputs: Record<string, WireTensor>;
  /** the outputs named in `keep` */
  resident: Record<string, ResidentTensor>;
  /** time spent inside ORT's run, in the worker */
  runMs: number;
}

/**
 * Start the worker. Under tsx (development, tests) this module and the worker are .ts files,
 * and in Node 20 a worker's entry module is resolved before `--import` hooks in its execArgv
 * apply, so the worker is started from a tiny eval'd bootstrap that registers tsx's loader and
 * then imports the real entry. A build that emits .js starts the .js worker directly.
 */
function spawnWorker(): Worker {
  // a worker inherits the process's execArgv; `--input-type` (from `node --input-type=module -e …`)
  // applies to string input only and makes Node refuse the worker's file entry
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./session-worker.js', import.meta.url), { stdout: false, stderr: false, execArgv });
  const entry = new URL('./session-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, stdout: false, stderr: false, execArgv });
}

/**
 * A started session worker not yet given a model. Starting one is the slow part of opening a
 * session (thread start, onnxruntime-node's import, ORT's environment: 250–450 ms measured on the
 * 2-core machine, against 10–70 ms for the InferenceSession itself), and none of it depends on
 * the model, so it can start before the model is known and run beside whatever the main thread
 * does meanwhile. What happens to it before a session adopts it is recorded here, so a worker
 * that failed to start fails the open that takes it, with the reason.
 */
class StartedWorker {
  readonly worker = spawnWorker();
  failure: Error | undefined;
  exitCode: number | undefined;
  /** a session took it (OrtSession.open): the session decides when it keeps the process alive */
  taken = false;
  /** its ORT warm-up is over (or it ended): it may be unref'd or terminated now */
  readonly warm: Promise<void>;
  /** its thread runs JavaScript (Node's 'online' event): it is about to start ORT itself */
  online = false;

  constructor() {
    this.worker.on('error', (e) => {
      this.failure ??= e;
    });
    this.worker.once('online', () => {
      this.online = true;
    });
    let warmed!: () => void;
    this.warm = new Promise<void>((resolve) => (warmed = resolve));
    this.worker.once('exit', (code) => {
      this.exitCode = code;
      warmed();
    });
    const onWarm = (msg: WorkerReply): void => {
      if (msg.type !== 'warm') return;
      this.worker.off('message', onWarm);
      ortStarted = true;
      warmed();
    };
    this.worker.on('message', onWarm);
    // Ref'd until the warm-up is over: ending the process (or terminating the worker) while ORT
    // initializes natively in it aborts the process (measured: exit 134, "terminate called after
    // throwing an instance of 'Napi::Error'"). So a process that prewarmed and then needs no
    // session lives on until the warm-up ends (at most the worker's start, 250–450 ms), and an
    // idle spare never keeps it alive.
    void this.warm.then(() => {
      if (!this.taken) this.worker.unref();
    });
  }

  get usable(): boolean {
    return this.failure === undefined && this.exitCode === undefined;
  }

  /** End it once it is safe to (after the warm-up); returns at once. */
  discard(): void {
    void this.warm.then(() => this.worker.terminate());
  }
}

/** At most one started worker waits for a session (prewarmSessionWorker). */
let spare: StartedWorker | undefined;

/** ORT's process-wide start (ort-start.ts) is done or under way: a worker reported it, or this thread began it. */
let ortStarted = false;

/**
 * Pay ORT's process-wide start on this thread, unless some thread has (see OrtSession.open). It
 * loads onnxruntime-node on this thread too: 20–25 ms more CPU for the process (measured with
 * perf: the module's JavaScript, which the worker loads as well); the native library, the
 * environment and the first-session set-up are moved to this thread, not repeated.
 */
async function startOrtHere(): Promise<void> {
  if (ortStarted) return;
  ortStarted = true;
  let ort: OrtRuntime;
  try {
    // require, not `await import()`: see inprocess-model.ts
    ort = createRequire(import.meta.url)('onnxruntime-node') as OrtRuntime;
  } catch {
    return; // the worker's own import reports what is wrong, naming the model
  }
  await startOrt(ort);
}

/**
 * Start a session worker now, for the next session to open (`OrtSession.open` takes it instead of
 * starting its own): the worker's start then overlaps what the caller does until the model is
 * ready. Cheap and idempotent; returns false when one was already waiting. An idle spare worker
 * never keeps the process alive, but one still warming up does (see StartedWorker): a process
 * should end by returning (process.exitCode), not by `process.exit()` in the first half second,
 * which, like exiting during any session's creation or run, can abort inside ONNX Runtime.
 * `discardSpareSessionWorker` ends a spare that is no longer wanted.
 */
export function prewarmSessionWorker(): boolean {
  if (spare?.usable) return false;
  spare = new StartedWorker();
  return true;
}

/**
 * End the waiting spare worker, if any (a load that started one and then failed); it ends as soon
 * as its ORT warm-up is over, which this does not wait for.
 */
export function discardSpareSessionWorker(): void {
  const w = spare;
  spare = undefined;
  w?.discard();
}

function takeWorker(): StartedWorker {
  const w = spare?.usable ? spare : new StartedWorker();
  spare = undefined;
  w.taken = true;
  return w;
}

/** How long a synchronous read of a resident tensor waits for the worker (it may be mid-run). */
const MATERIALIZE_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * A float32 tensor held by a session's worker (an output kept with `keep`, or a derived prefix).
 * `read()` brings it to the main thread once, synchronously; after that it is an ordinary array.
 * Immutable: neither copy is ever written after creation.
 */
export class ResidentTensor {
  /** @internal the main thread's copy, once handed over (null: the worker had lost it) */
  data: Float32Array | null | undefined;
  /** @internal a hand-over of this tensor is on its way (seq of the request) */
  inFlight: number | undefined;

  /** @internal */
  constructor(readonly session: OrtSession, readonly id: number, readonly dims: readonly number[]) {}

  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  /** The values, handed over from the worker on first use (blocks until the worker gets to it). */
  read(): Float32Array {
    if (this.data === undefined) this.session.awaitHandOver(this);
    if (!this.data) {
      throw new RuntimeFailure(`${this.session.name}: a KV cache held by the session worker was lost (the session was disposed or failed before it was read)`);
    }
    return this.data;
  }
}

interface Pending {
  resolve(r: RunResult): void;
  reject(e: Error): void;
}

interface Generation {
  ids: number[];
}

export class OrtSession {
  readonly inputs: WireValueInfo[] = [];
  readonly outputs: WireValueInfo[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  /** set when the worker died: every later call fails with it */
  private dead: RuntimeFailure | undefined;
  private disposing: Promise<void> | undefined;
  /** @internal the worker thread has ended */
  exited = false;
  /** resident batches, oldest first */
  private readonly generations: Generation[] = [];
  /** resident id → its batch, while the worker holds it */
  private readonly generationOf = new Map<number, Generation>();
  /** every handle not yet garbage-collected, by id (hand-overs are delivered through it) */
  private readonly handles = new Map<number, WeakRef<ResidentTensor>>();
  private maxGenerations: number;
  private nextResident = 1;
  private releaseQueue: number[] = [];
  /** handles the program dropped: their worker copies go too */
  private readonly finalizer = new FinalizationRegistry<number>((id) => this.forget(id));
  private handOverSeq = 0;
  /** [0]: last hand-over delivered; [1]: id of the last run/load the worker finished */
  private readonly handOverCounter = new Int32Array(new SharedArrayBuffer(8));
  /** id of the last run posted */
  private lastRunId = 0;
  private readonly dataPort: MessagePort;

  private constructor(
    readonly name: string,
    private readonly worker: Worker,
    dataPort: MessagePort,
    residentGenerations: number,
    /**
     * CPU cores a run keeps busy: the intra-op threads on the CPU provider (ORT's default is one
     * per physical core; counted here as every core Node reports, which is what it is on machines
     * without SMT), 0 on CUDA, where the worker waits for the GPU.
     */
    readonly cpuThreads: number,
  ) {
    this.maxGenerations = Math.max(1, residentGenerations);
    this.dataPort = dataPort;
    dataPort.on('message', (h: HandOver) => this.deliver(h));
    dataPort.unref();
  }

  /**
   * Start a worker and load a model into it. `model` is a path to an .onnx file or its bytes
   * (the bytes are transferred to the worker).
   */
  static async open(model: string | Uint8Array, options: SessionOptions = {}): Promise<OrtSession> {
    const ep = options.executionProvider ?? 'cpu';
    if (ep !== 'cpu' && ep !== 'cuda') throw new OptionError(`executionProvider must be 'cpu' or 'cuda', got '${String(ep)}'`);
    if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
      throw new OptionError(`threads must be a positive integer, got ${options.threads}`);
    }
    const name = options.name ?? (typeof model === 'string' ? model : 'in-memory model');
    let bytes: Uint8Array;
    let externalDataDir = options.externalDataDir;
    if (typeof model === 'string') {
      if (!existsSync(model)) throw new RuntimeFailure(`${name}: model file ${model} not found`);
      bytes = await readFile(model);
      externalDataDir ??= dirname(model);
    } else bytes = model;
    if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength || !(bytes.buffer instanceof ArrayBuffer)) bytes = bytes.slice();

    const started = takeWorker();
    const worker = started.worker;
    // loading keeps the process alive (the caller awaits it); idle again once open
    worker.ref();
    const channel = new MessageChannel();
    const cpuThreads = ep === 'cpu' ? (options.threads ?? availableParallelism()) : 0;
    const session = new OrtSession(name, worker, channel.port1, options.residentGenerations ?? 4, cpuThreads);
    const opened = new Promise<void>((resolve, reject) => {
      const onMessage = (msg: WorkerReply): void => {
        if (msg.type === 'opened') {
          session.inputs.push(...msg.inputs);
          session.outputs.push(...msg.outputs);
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.on('message', (m: WorkerReply) => session.onMessage(m));
          resolve();
        } else if (msg.type === 'error') {
          const hint = ep === 'cuda' ? ' (executionProvider cuda needs the CUDA build of onnxruntime-node and CUDA libraries)' : '';
          reject(new RuntimeFailure(`${name}: ONNX Runtime could not load the model${hint}: ${msg.message}`));
        }
      };
      const onError = (e: Error): void => reject(new RuntimeFailure(`${name}: session worker failed to start: ${e.message}`, { cause: e }));
      worker.on('message', onMessage);
      worker.on('error', onError);
      const onExit = (code: number): void => reject(new RuntimeFailure(`${name}: session worker exited (code ${code}) while loading the model`));
      worker.once('exit', onExit);
      // it may have failed before this session took it (a worker started early)
      if (started.failure) onError(started.failure);
      else if (started.exitCode !== undefined) onExit(started.exitCode);
    });
    worker.on('error', (e) => session.fail(new RuntimeFailure(`${name}: session worker crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      session.exited = true;
      if (!session.disposed) session.fail(new RuntimeFailure(`${name}: session worker exited unexpectedly (code ${code})`));
    });
    const req: OpenRequest = {
      type: 'open', name, model: bytes, executionProvider: ep, dataPort: channel.port2, handOverSeq: session.handOverCounter.buffer as SharedArrayBuffer,
    };
    if (externalDataDir !== undefined) req.externalDataDir = externalDataDir;
    if (options.optimizedModel !== undefined && ep === 'cpu') req.optimizedModel = options.optimizedModel;
    if (options.threads !== undefined) req.threads = options.threads;
    if (options.spinning !== undefined) req.spinning = options.spinning;
    worker.postMessage(req, [bytes.buffer as ArrayBuffer, channel.port2]);
    // The first session of a process: no thread has started ORT, and the worker would start it
    // only once its thread is up (Node's thread start, 55–80 ms on the 2-core machine, measured,
    // then onnxruntime-node's import), while this thread merely waits from here on. So this
    // thread pays ORT's process-wide start meanwhile (ort-start.ts) and the worker finds it done
    // (loadModel of tiny-dlm: median 243 → 185 ms on quiet runs, docs/package.md). A worker
    // already up (one started early by prewarmSessionWorker) gets there as soon as this thread
    // would, so it is left to it, and this thread does not load onnxruntime-node for nothing.
    // (Awaited together with `opened`, so that a worker failing meanwhile is never an unhandled
    // rejection; startOrtHere never rejects.)
    const starting = started.online ? undefined : startOrtHere();
    try {
      await Promise.all([opened, starting]);
    } catch (e) {
      session.disposed = true;
      await worker.terminate();
      throw e;
    }
    worker.unref();
    return session;
  }

  get inputNames(): string[] {
    return this.inputs.map((i) => i.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((o) => o.name);
  }

  /** Run the graph; resolves with the requested outputs. ORT errors become RuntimeFailure. */
  run(feeds: Record<string, WireTensor | ResidentTensor>, fetches: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.disposed) return Promise.reject(new RuntimeFailure(`${this.name}: session is disposed`));
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const wireFeeds: RunRequest['feeds'] = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!(t instanceof ResidentTensor)) wireFeeds[name] = t;
      else if (this.holds(t)) wireFeeds[name] = { resident: t.id, dims: [...t.dims] };
      else wireFeeds[name] = { type: 'float32', data: t.read(), dims: [...t.dims] };
    }
    const req: RunRequest = { type: 'run', id, feeds: wireFeeds, fetches: [...fetches] };
    this.lastRunId = id;
    if (this.releaseQueue.length) {
      // queued releases ride along with the run (one message instead of two)
      req.release = this.releaseQueue;
      this.releaseQueue = [];
      if (this.releaseTimer) clearImmediate(this.releaseTimer);
      this.releaseTimer = undefined;
    }
    if (options.graph !== undefined) req.graph = options.graph;
    if (options.int32Outputs) req.int32Outputs = options.int32Outputs;
    const kept: Record<string, ResidentTensor> = {};
    if (options.keep && Object.keys(options.keep).length > 0) {
      req.keep = {};
      for (const [name, dims] of Object.entries(options.keep)) {
        const rid = this.nextResident++;
        req.keep[name] = { id: rid, dims };
        kept[name] = new ResidentTensor(this, rid, dims);
      }
    }
    return new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (r) => {
          // only now do the kept tensors exist; a failed run leaves nothing behind
          this.adopt(Object.values(kept));
          resolve({ ...r, resident: kept });
        },
        reject,
      });
      if (this.pending.size === 1) this.worker.ref();
      this.post(req, options.transfer ?? [], (e) => {
        this.settle(id);
        reject(new RuntimeFailure(`${this.name}: could not send inputs to the session worker: ${e.message}`, { cause: e }));
      });
    });
  }

  /**
   * Resident prefixes: for each tensor [..rows.., oldLen, width] (rows·oldLen·width values), a
   * new one with the first `newLen` positions of every row. Queued in the worker in order, so the
   * result can be fed to the next run at once; no bytes cross to the main thread.
   */
  derivePrefix(tensors: readonly ResidentTensor[], rows: number, oldLen: number, newLen: number, width: number, dims: readonly number[]): ResidentTensor[] {
    if (this.disposed || this.dead) throw this.dead ?? new RuntimeFailure(`${this.name}: session is disposed`);
    const out = tensors.map(() => new ResidentTensor(this, this.nextResident++, dims));
    const req: DeriveRequest = { type: 'derive', from: tensors.map((t) => t.id), to: out.map((t) => t.id), rows, oldLen, newLen, width };
    this.post(req, [], (e) => {
      throw new RuntimeFailure(`${this.name}: could not reach the session worker: ${e.message}`, { cause: e });
    });
    this.adopt(out);
    return out;
  }

  /**
   * Load a further graph into this session's worker (same options as the session's own, except
   * `spinning` if given), to run with `run(…, { graph: name })`. Its runs and the session's share
   * resident tensors. Each graph has its own ORT thread pool: spinning threads of one steal CPU
   * from the other's runs, so graphs run alternately usually want spinning off.
   */
  async loadGraph(name: string, model: string | Uint8Array, options: { externalDataDir?: string; spinning?: boolean; optimizedModel?: string } = {}): Promise<void> {
    if (this.disposed) throw new RuntimeFailure(`${this.name}: session is disposed`);
    if (this.dead) throw this.dead;
    let bytes: Uint8Array;
    let externalDataDir = options.externalDataDir;
    if (typeof model === 'string') {
      if (!existsSync(model)) throw new RuntimeFailure(`${this.name}: model file ${model} not found`);
      bytes = await readFile(model);
      externalDataDir ??= dirname(model);
    } else bytes = model;
    if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength || !(bytes.buffer instanceof ArrayBuffer)) bytes = bytes.slice();
    const id = this.nextId++;
    const req: LoadRequest = { type: 'load', id, graph: name, model: bytes };
    if (externalDataDir !== undefined) req.externalDataDir = externalDataDir;
    if (options.optimizedModel !== undefined && this.cpuThreads > 0) req.optimizedModel = options.optimizedModel;
    if (options.spinning !== undefined) req.spinning = options.spinning;
    await new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject: (e) => reject(new RuntimeFailure(`${this.name}: could not load graph '${name}': ${e.message}`, { cause: e })) });
      if (this.pending.size === 1) this.worker.ref();
      this.post(req, [bytes.buffer as ArrayBuffer], (e) => {
        this.settle(id);
        reject(new RuntimeFailure(`${this.name}: could not send graph '${name}' to the session worker: ${e.message}`, { cause: e }));
      });
    });
  }

  /**
   * New resident tensors composed in the worker from resident ones (see ComposeSpec): rows
   * selected from a base, positions of other tensors scattered in. Queued in order like a run;
   * nothing crosses to the main thread. With `consume` the base handles become invalid.
   */
  compose(spec: ComposeSpec): ResidentTensor[] {
    if (this.disposed || this.dead) throw this.dead ?? new RuntimeFailure(`${this.name}: session is disposed`);
    const count = spec.base?.length ?? spec.writes[0]?.tensors.length ?? 0;
    const dims = [spec.rows, spec.heads, spec.length, spec.width];
    const out = Array.from({ length: count }, () => new ResidentTensor(this, this.nextResident++, dims));
    const check = (t: ResidentTensor): number => {
      if (!this.holds(t)) throw new RuntimeFailure(`${this.name}: compose needs tensors this session's worker holds`);
      return t.id;
    };
    const req: ComposeRequest = {
      type: 'compose',
      to: out.map((t) => t.id),
      base: spec.base ? spec.base.map(check) : null,
      baseRows: spec.baseRows,
      baseLength: spec.baseLength,
      rows: spec.rows,
      heads: spec.heads,
      length: spec.length,
      width: spec.width,
      rowMap: spec.rowMap,
      consume: spec.consume,
      writes: spec.writes.map((w) => ({ from: w.tensors.map(check), rows: w.rows, length: w.length, targetRows: w.targetRows, positions: w.positions })),
      release: (spec.release ?? []).filter((t) => this.holds(t)).map((t) => t.id),
    };
    this.post(req, [], (e) => {
      throw new RuntimeFailure(`${this.name}: could not reach the session worker: ${e.message}`, { cause: e });
    });
    const gone = [...(spec.consume && spec.base ? spec.base : []), ...(spec.release ?? [])];
    this.untrack(gone);
    this.adopt(out);
    return out;
  }

  /**
   * Drop resident tensors the program is done with, now rather than when their handles are
   * collected (keeps the worker's resident batches few, so nothing live is evicted). Their
   * handles become invalid. Queued after every request already sent.
   */
  release(tensors: readonly ResidentTensor[]): void {
    const held = tensors.filter((t) => this.holds(t));
    this.untrack(held);
    this.releaseQueue.push(...held.map((t) => t.id));
    this.flushReleasesSoon();
  }

  /** Stop tracking tensors the worker no longer holds (or will drop): they read as lost. */
  private untrack(tensors: readonly ResidentTensor[]): void {
    for (const t of tensors) {
      const generation = this.generationOf.get(t.id);
      if (!generation) continue;
      this.generationOf.delete(t.id);
      if (t.data === undefined && t.inFlight === undefined) t.data = null;
      if (generation.ids.every((rid) => !this.generationOf.has(rid))) {
        const at = this.generations.indexOf(generation);
        if (at >= 0) this.generations.splice(at, 1);
      }
    }
  }

  /**
   * Whether the last run sent is still computing in the worker. Synchronous and cheap (one atomic
   * load): a caller doing other work on this thread while a run is in flight (drafting beside a
   * verification) can poll it without yielding to the event loop, which is where the reply would
   * be delivered. False from just before the worker posts the reply, even before it is delivered.
   */
  busy(): boolean {
    return Atomics.load(this.handOverCounter, 1) < this.lastRunId;
  }

  /** Event-loop utilization of the worker thread (its busy time includes ORT's runs). */
  workerUtilization(): { idle: number; active: number; utilization: number } {
    return this.worker.performance.eventLoopUtilization();
  }

  /** Whether the worker still holds this tensor (so feeding it costs nothing). */
  holds(t: ResidentTensor): boolean {
    return t.session === this && this.generationOf.has(t.id);
  }

  /** Ask the worker to hand tensors over (`release`: and drop them; eviction). Queued in order. */
  private handOver(tensors: readonly ResidentTensor[], release: boolean): number {
    const seq = ++this.handOverSeq;
    for (const t of tensors) t.inFlight = seq;
    const req: MaterializeRequest = { type: 'materialize', ids: tensors.map((t) => t.id), seq, release };
    this.post(req, [], () => this.deliver({ seq, ids: req.ids, data: req.ids.map(() => null) }));
    return seq;
  }

  /** A hand-over arrived on the data port: give each live handle its data. */
  private deliver(h: HandOver): void {
    h.ids.forEach((id, i) => {
      const t = this.handles.get(id)?.deref();
      if (t && t.data === undefined) {
        t.data = h.data[i] ?? null;
        t.inFlight = undefined;
      }
    });
  }

  /**
   * @internal Block until `t` has been handed over (ResidentTensor.read). The worker may be busy
   * with a queued run first; its data-port message is drained synchronously once it signals.
   */
  awaitHandOver(t: ResidentTensor): void {
    if (t.data !== undefined) return;
    if (t.session !== this || (!this.holds(t) && t.inFlight === undefined) || this.exited || this.dead) {
      t.data = null;
      return;
    }
    // the whole batch at once: whoever reads one layer's keys reads them all
    const seq = t.inFlight ?? this.handOver(this.batchOf(t), false);
    const deadline = Date.now() + MATERIALIZE_TIMEOUT_MS;
    const drain = (): void => {
      for (let m = receiveMessageOnPort(this.dataPort); m; m = receiveMessageOnPort(this.dataPort)) this.deliver(m.message as HandOver);
    };
    for (;;) {
      drain();
      if (t.data !== undefined) return;
      const seen = Atomics.load(this.handOverCounter, 0);
      if (seen >= seq) {
        // signalled after posting, so the hand-over is on the port by now
        drain();
        if (t.data === undefined) t.data = null;
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.handOverCounter, 0, seen, Math.min(left, 1000)) === 'timed-out') {
        if (this.exited) {
          t.data = null;
          return;
        }
        if (Date.now() >= deadline) throw new RuntimeFailure(`${this.name}: timed out waiting for the session worker to hand over a KV cache`);
      }
    }
  }

  /** The live, still-resident handles of t's batch (t included). */
  private batchOf(t: ResidentTensor): ResidentTensor[] {
    const generation = this.generationOf.get(t.id);
    if (!generation) return [t];
    const out = generation.ids
      .map((id) => this.handles.get(id)?.deref())
      .filter((h): h is ResidentTensor => h !== undefined && h.data === undefined && h.inFlight === undefined);
    return out.includes(t) ? out : [...out, t];
  }

  private post(req: WorkerRequest, transfer: ArrayBuffer[], onError: (e: Error) => void): void {
    try {
      if (this.releaseQueue.length && req.type !== 'release') this.flushReleases();
      this.worker.postMessage(req, transfer);
    } catch (e) {
      onError(e as Error);
    }
  }

  /**
   * Batches of resident tensors the worker holds at most (see SessionOptions.residentGenerations).
   * Continuous batching raises it while generations share the session: each keeps its own cache
   * here, and a batched forward adds a few batches of its own (runtime/batched-causal.ts).
   */
  get residentLimit(): number {
    return this.maxGenerations;
  }

  set residentLimit(n: number) {
    this.maxGenerations = Math.max(1, Math.floor(n));
  }

  /** Track new resident tensors; past the limit, hand the oldest batch over to this thread. */
  private adopt(tensors: ResidentTensor[]): void {
    if (tensors.length === 0) return;
    const generation: Generation = { ids: tensors.map((h) => h.id) };
    this.generations.push(generation);
    for (const h of tensors) {
      this.generationOf.set(h.id, generation);
      this.handles.set(h.id, new WeakRef(h));
      this.finalizer.register(h, h.id);
    }
    while (this.generations.length > this.maxGenerations) {
      // Evicted tensors move to this thread without a copy (their buffers are transferred): a
      // cache the program still holds stays valid, and a dropped one is ordinary garbage here.
      const old = this.generations.shift()!;
      const live = old.ids.map((id) => this.handles.get(id)?.deref()).filter((h): h is ResidentTensor => h !== undefined);
      for (const id of old.ids) this.generationOf.delete(id);
      if (live.length) this.handOver(live, true);
      const dead = old.ids.filter((id) => !live.some((h) => h.id === id));
      if (dead.length) this.releaseQueue.push(...dead);
    }
    this.flushReleasesSoon();
  }

  /** A handle was garbage-collected: its worker copy is not needed any more. */
  private forget(id: number): void {
    this.handles.delete(id);
    const generation = this.generationOf.get(id);
    if (!generation) return;
    this.generationOf.delete(id);
    this.releaseQueue.push(id);
    if (generation.ids.every((rid) => !this.generationOf.has(rid))) {
      const at = this.generations.indexOf(generation);
      if (at >= 0) this.generations.splice(at, 1);
    }
    this.flushReleasesSoon();
  }

  private releaseTimer: ReturnType<typeof setImmediate> | undefined;

  private flushReleasesSoon(): void {
    if (this.releaseTimer || this.releaseQueue.length === 0) return;
    this.releaseTimer = setImmediate(() => this.flushReleases());
    this.releaseTimer.unref();
  }

  private flushReleases(): void {
    if (this.releaseTimer) clearImmediate(this.releaseTimer);
    this.releaseTimer = undefined;
    if (this.releaseQueue.length === 0 || this.disposed || this.dead) {
      this.releaseQueue = [];
      return;
    }
    const ids = this.releaseQueue;
    this.releaseQueue = [];
    try {
      this.worker.postMessage({ type: 'release', ids });
    } catch {
      // the worker is gone: nothing left to release
    }
  }

  /** Release the ORT session and stop the worker. Pending runs fail; idempotent. */
  dispose(): Promise<void> {
    if (this.disposing) return this.disposing;
    this.disposed = true;
    this.fail(new RuntimeFailure(`${this.name}: session was disposed while a run was pending`));
    this.disposing = (async () => {
      if (this.dead) {
        await this.worker.terminate();
        this.dataPort.close();
        return;
      }
      this.worker.ref();
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
        this.worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.worker.postMessage({ type: 'dispose' });
      await done;
      this.dataPort.close();
    })();
    return this.disposing;
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.disposed) this.worker.unref();
    return p;
  }

  private onMessage(msg: WorkerReply): void {
    if (msg.type === 'result') this.settle(msg.id)?.resolve({ outputs: msg.outputs, runMs: msg.runMs, resident: {} });
    else if (msg.type === 'error' && msg.id !== undefined) this.settle(msg.id)?.reject(new RuntimeFailure(`${this.name}: ${msg.message}`));
  }

  private fail(error: RuntimeFailure): void {
    if (!this.disposed) this.dead = error;
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      p.reject(error);
    }
  }
}
