/**
 * Worker thread that owns one ONNX Runtime session. `session.run` in onnxruntime-node is
 * synchronous native work (the JS promise only defers its start), so running it here keeps the
 * main event loop — HTTP server, streaming, timers — responsive during a forward pass.
 *
 * Protocol: see session-protocol.ts. One open, then any number of runs (processed in order),
 * then dispose. Errors are reported as messages, never thrown across the boundary.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, threadId, type MessagePort } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { startOrt, type OrtRuntime } from './ort-start.js';
import type {
  ComposeRequest, DeriveRequest, HandOver, LoadRequest, MaterializeRequest, OpenRequest, ResidentRef, RunRequest, WireTensor, WireValueInfo, WorkerReply,
  WorkerRequest,
} from './session-protocol.js';

if (!parentPort) throw new Error('session-worker.ts must run as a worker thread');
const port = parentPort;

// required, not imported: an `import` of this CommonJS package makes Node's ES module loader scan
// it, and onnxruntime-common that it re-exports, for named exports first — 10–15 ms more of the
// worker's start, which is on the way to every model's first session (measured: spawn to loaded)
const ort = createRequire(import.meta.url)('onnxruntime-node') as OrtRuntime;

let session: Ort.InferenceSession | undefined;
/** further graphs loaded into this worker (LoadRequest), by name */
const graphs = new Map<string, Ort.InferenceSession>();
/** the options the first graph was opened with, reused for further graphs */
let openOptions: OpenRequest | undefined;
let dataPort: MessagePort | undefined;
let handOverSeq: Int32Array | undefined;

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  // requests with ids finish in order: publish the last one for OrtSession.busy() — before the
  // reply, so a caller that already has the result never sees the run as busy
  if ('id' in msg && typeof msg.id === 'number' && handOverSeq) Atomics.store(handOverSeq, 1, msg.id);
  port.postMessage(msg, transfer);
}

function describe(meta: readonly Ort.InferenceSession.ValueMetadata[]): WireValueInfo[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] }));
}

function sessionOptions(req: OpenRequest, externalDataDir: string | undefined): Ort.InferenceSession.SessionOptions {
  const options: Ort.InferenceSession.SessionOptions = {
    executionProviders: [req.executionProvider],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  if (req.threads !== undefined) options.intraOpNumThreads = req.threads;
  const config: Record<string, string> = {};
  if (externalDataDir !== undefined) {
    // The model is loaded from bytes, so ORT needs to be told where external data lives; this
    // also lets a cached graph point into a checkpoint directory elsewhere on disk.
    config['model_external_initializers_file_folder_path'] = externalDataDir;
  }
  if (req.spinning !== undefined) config['intra_op.allow_spinning'] = req.spinning ? '1' : '0';
  if (Object.keys(config).length) options.extra = { session: config };
  return options;
}

/** Optimized models kept per cache entry (one per copy of the checkpoint and ORT version): the newest few. */
const OPTIMIZED_KEPT = 4;

/**
 * Create a session, through ORT's optimized-model cache when asked (SessionOptions.optimizedModel).
 * ORT's graph optimizations (constant folding of the F16/BF16 casts and the q/k/v and gate/up
 * weight concatenations, fusions) run on every session creation: 30 ms of a 65 ms first create
 * for tiny-dlm on the 2-core machine (measured: 'all' 66–106 ms, the saved model with
 * optimization off 35–41 ms). The saved model is exactly the graph ORT would otherwise build and
 * run, so the outputs are the same bits (the tests compare against the reference forward).
 * Any problem with the cached file falls back to optimizing again.
 */
async function createSession(model: Uint8Array, optimizedModel: string | undefined, options: Ort.InferenceSession.SessionOptions): Promise<Ort.InferenceSession> {
  if (optimizedModel === undefined) return ort.InferenceSession.create(model, options);
  const file = `${optimizedModel.replace(/\.onnx$/, '')}-ort${ort.env.versions.common}.onnx`;
  if (existsSync(file)) {
    try {
      return await ort.InferenceSession.create(file, { ...options, graphOptimizationLevel: 'disabled' });
    } catch {
      // unreadable or from an incompatible build: optimize again and replace it
    }
  }
  const tmp = `${file}.tmp-${process.pid}-${threadId}`;
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { ...options, optimizedModelFilePath: tmp });
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    renameSync(tmp, file);
    pruneOptimized(dirname(file));
  } catch {
    rmSync(tmp, { force: true }); // a read-only cache: the next load optimizes again
  }
  return session;
}

/** A temporary file this old was left by a process that died while writing it. */
const STALE_TMP_MS = 10 * 60 * 1000;

function pruneOptimized(dir: string): void {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('optimized-'))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  const done = files.filter(({ f }) => f.endsWith('.onnx'));
  const stale = files.filter(({ f, t }) => f.includes('.onnx.tmp-') && Date.now() - t > STALE_TMP_MS);
  for (const { f } of [...done.slice(OPTIMIZED_KEPT), ...stale]) rmSync(join(dir, f), { force: true });
}

async function open(req: OpenRequest): Promise<void> {
  dataPort = req.dataPort;
  handOverSeq = new Int32Array(req.handOverSeq);
  openOptions = req;
  const created = await createSession(req.model, req.optimizedModel, sessionOptions(req, req.externalDataDir));
  session = created;
  reply({ type: 'opened', inputs: describe(created.inputMetadata), outputs: describe(created.outputMetadata) });
}

async function load(req: LoadRequest): Promise<void> {
  if (!openOptions) throw new Error('no session is open');
  if (graphs.has(req.graph)) throw new Error(`graph '${req.graph}' is already loaded`);
  const options = req.spinning === undefined ? openOptions : { ...openOptions, spinning: req.spinning };
  graphs.set(req.graph, await createSession(req.model, req.optimizedModel, sessionOptions(options, req.externalDataDir)));
  reply({ type: 'result', id: req.id, outputs: {}, runMs: 0 });
}

/**
 * Outputs kept from earlier runs (KV caches), by id. ORT reads them as inputs with no copy, so a
 * cache produced by one step feeds the next without crossing the thread boundary again.
 */
const resident = new Map<number, Float32Array<ArrayBuffer>>();

function feedTensor(name: string, t: WireTensor | ResidentRef): Ort.Tensor {
  if ('resident' in t) {
    const data = resident.get(t.resident);
    if (!data) throw new Error(`internal: input '${name}' refers to released resident tensor ${t.resident}`);
    return new ort.Tensor('float32', data, t.dims);
  }
  // onnxruntime-node rejects SharedArrayBuffer-backed data: take a private copy
  const data = t.data.buffer instanceof ArrayBuffer ? t.data : t.data.slice();
  return new ort.Tensor(t.type, data, t.dims);
}

async function run(req: RunRequest): Promise<void> {
  const graph = req.graph === undefined ? session : graphs.get(req.graph);
  if (!graph) throw new Error(req.graph === undefined ? 'no session is open' : `no graph '${req.graph}' is loaded`);
  const feeds: Record<string, Ort.Tensor> = {};
  for (const [name, t] of Object.entries(req.feeds)) feeds[name] = feedTensor(name, t);
  const fetches: Record<string, Ort.Tensor | null> = {};
  const kept: Record<string, Float32Array<ArrayBuffer>> = {};
  for (const name of req.fetches) {
    const keep = req.keep?.[name];
    if (keep) {
      kept[name] = new Float32Array(keep.dims.reduce((a, b) => a * b, 1));
      fetches[name] = new ort.Tensor('float32', kept[name], keep.dims);
    } else fetches[name] = null;
  }
  const start = performance.now();
  const results = await graph.run(feeds, fetches);
  const runMs = performance.now() - start;
  const outputs: Record<string, WireTensor> = {};
  const transfer: ArrayBuffer[] = [];
  const narrow = new Set(req.int32Outputs ?? []);
  for (const name of req.fetches) {
    const keep = req.keep?.[name];
    if (keep) {
      resident.set(keep.id, kept[name]!);
      continue;
    }
    const value = results[name];
    if (!value) throw new Error(`output '${name}' was not produced`);
    const tensor = value as Ort.Tensor;
    let data = tensor.data as WireTensor['data'];
    let type = tensor.type as WireTensor['type'];
    if (narrow.has(name) && data instanceof BigInt64Array) {
      const ids = new Int32Array(data.length);
      for (let i = 0; i < data.length; i++) ids[i] = Number(data[i]!);
      data = ids;
      type = 'int32';
    }
    outputs[name] = { type, data, dims: [...tensor.dims] };
    if (data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
  }
  reply({ type: 'result', id: req.id, outputs, runMs }, transfer);
}

function derive(req: DeriveRequest): void {
  const oldRow = req.oldLen * req.width;
  const newRow = req.newLen * req.width;
  req.from.forEach((from, i) => {
    const src = resident.get(from);
    if (!src) throw new Error(`internal: resident tensor ${from} was released before it was truncated`);
    const out = new Float32Array(req.rows * newRow);
    for (let r = 0; r < req.rows; r++) out.set(src.subarray(r * oldRow, r * oldRow + newRow), r * newRow);
    resident.set(req.to[i]!, out);
  });
}

function compose(req: ComposeRequest): void {
  const { rows, heads, length, width, baseRows, baseLength, rowMap } = req;
  const rowSize = heads * length * width;
  let identity = req.base !== null && baseRows === rows && baseLength === length;
  for (let r = 0; identity && r < rows; r++) identity = rowMap[r] === r;
  const keep = Math.min(baseLength, length) * width;
  req.to.forEach((to, i) => {
    const base = req.base === null ? undefined : resident.get(req.base[i]!);
    if (req.base !== null && !base) throw new Error(`internal: resident tensor ${req.base[i]} was released before it was composed`);
    let out: Float32Array<ArrayBuffer>;
    if (base && req.consume && identity) out = base;
    else {
      out = new Float32Array(rows * rowSize);
      if (base) {
        for (let r = 0; r < rows; r++) {
          const src = rowMap[r]!;
          if (src < 0) continue;
          for (let h = 0; h < heads; h++) {
            const from = (src * heads + h) * baseLength * width;
            out.set(base.subarray(from, from + keep), (r * heads + h) * length * width);
          }
        }
      }
    }
    if (req.consume && req.base !== null) resident.delete(req.base[i]!);
    for (const w of req.writes) {
      const src = resident.get(w.from[i]!);
      if (!src) throw new Error(`internal: resident tensor ${w.from[i]} was released before it was written into a cache`);
      for (let s = 0; s < w.rows; s++) {
        const t = w.targetRows[s]!;
        if (t < 0) continue;
        // runs of consecutive source positions going to consecutive output positions move as one
        // block per head (a cache's positions mostly keep their order: one run per row, or two)
        for (let j = 0; j < w.length; ) {
          const p = w.positions[s * w.length + j]!;
          if (p < 0) {
            j++;
            continue;
          }
          let run = 1;
          while (j + run < w.length && w.positions[s * w.length + j + run] === p + run) run++;
          for (let h = 0; h < heads; h++) {
            const from = ((s * heads + h) * w.length + j) * width;
            out.set(src.subarray(from, from + run * width), ((t * heads + h) * length + p) * width);
          }
          j += run;
        }
      }
    }
    resident.set(to, out);
  });
  for (const id of req.release) resident.delete(id);
}

function materialize(req: MaterializeRequest): void {
  const data: (Float32Array | null)[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const id of req.ids) {
    const own = resident.get(id);
    if (!own) {
      data.push(null);
      continue;
    }
    // evicted: the buffer itself moves to the main thread; read: a copy, the worker keeps its own
    const out = req.release ? own : own.slice();
    if (req.release) resident.delete(id);
    data.push(out);
    transfer.push(out.buffer);
  }
  const handOver: HandOver = { seq: req.seq, ids: req.ids, data };
  dataPort?.postMessage(handOver, transfer);
  signal(req.seq);
}

/** Tell a main thread blocked in Atomics.wait that hand-over `seq` is on the data port. */
function signal(seq: number): void {
  if (!handOverSeq) return;
  Atomics.store(handOverSeq, 0, seq);
  Atomics.notify(handOverSeq, 0);
}

/**
 * ORT's process-wide start (ort-start.ts) is paid the moment the worker has started, before any
 * request: while the main thread is still reading the checkpoint (or, after
 * `prewarmSessionWorker`, still importing modules), instead of after the model arrives. When the
 * main thread has already paid it (OrtSession.open), this costs a few ms.
 */
async function warmUp(): Promise<void> {
  await startOrt(ort);
  port.postMessage({ type: 'warm' } satisfies WorkerReply);
}

/** Requests are handled strictly in order (ORT sessions are not re-entrant from one thread anyway), after the warm-up. */
let chain: Promise<void> = warmUp();

port.on('message', (req: WorkerRequest) => {
  chain = chain.then(async () => {
    try {
      if (req.type === 'open') await open(req);
      else if (req.type === 'load') await load(req);
      else if (req.type === 'run') await run(req);
      else if (req.type === 'compose') compose(req);
      else if (req.type === 'derive') derive(req);
      else if (req.type === 'materialize') materialize(req);
      else if (req.type === 'release') for (const id of req.ids) resident.delete(id);
      else {
        await session?.release();
        session = undefined;
        for (const g of graphs.values()) await g.release();
        graphs.clear();
        resident.clear();
        reply({ type: 'disposed' });
        dataPort?.close();
        port.close();
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (req.type === 'materialize') {
        // never leave the main thread waiting: an empty hand-over reads as "lost"
        dataPort?.postMessage({ seq: req.seq, ids: req.ids, data: req.ids.map(() => null) } satisfies HandOver);
        signal(req.seq);
      }
      reply(req.type === 'run' || req.type === 'load' ? { type: 'error', id: req.id, message } : { type: 'error', message });
    } finally {
      // releases that rode along with a run: after its reply, whether it succeeded or not
      if (req.type === 'run') for (const id of req.release ?? []) resident.delete(id);
    }
  });
});
