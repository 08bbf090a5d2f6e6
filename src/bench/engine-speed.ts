/**
 * Engine speed: how close a compiled bidirectional forward comes to ONNX Runtime's own MatMul.
 *
 * A ~100M-parameter random LLaDA-layout checkpoint is written to a temp dir, compiled, and
 * timed; in the same process and with the same thread count, a one-node MatMul graph of a
 * comparable shape ([seq, hidden] × [hidden, 4·hidden], constant B like a weight) is timed too.
 * The two are interleaved (each forward is followed by MatMul runs of about the same total
 * time) so that both see the same machine: on a shared box, timing one after the other measures
 * the neighbours' load as much as the engine. Both sessions run with ORT's spin-waiting off so the
 * idle one does not steal cycles from the busy one.
 *
 * Efficiency = model GFLOP/s ÷ MatMul GFLOP/s. The model's FLOPs count every weight matmul
 * (2·params·tokens) plus attention (QKᵀ and PV: 4·seq²·heads·headDim per layer), not the
 * elementwise work, so efficiency below 100% is the cost of everything that is not a big GEMM.
 *
 * The JS-side overhead is what a decoder pays per step on top of ORT's run: posting inputs to
 * the worker, reading back the decode head, and a decoder's per-step bookkeeping (here: ranking
 * the positions by top-1 confidence, as a diffusion strategy does), as a fraction of run time.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomCheckpoint } from '../model/checkpoint.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { OptionError } from '../errors.js';
import { GRAPH_OPSETS } from '../runtime/compile.js';
import { Graph } from '../runtime/graph.js';
import { OnnxBidirectionalModel } from '../runtime/bidirectional-model.js';
import { compileModel } from '../runtime/compile-model.js';
import { OrtSession } from '../runtime/session.js';

export interface EngineSpeedOptions {
  hiddenSize?: number; // default 768
  layers?: number; // default 12
  heads?: number; // default hiddenSize / 64
  intermediateSize?: number; // default 8/3·hidden rounded to 256 (2048 for 768)
  vocabSize?: number; // default 8192
  seq?: number; // default 256
  batch?: number; // default 1
  threads?: number; // default: all available cores
  warmup?: number; // default 2
  runs?: number; // default 5
  /** 'int4' to time the quantized graph instead */
  quantize?: 'none' | 'int4';
  /** progress lines (default: none) */
  log?: (line: string) => void;
}

export interface TimingStats {
  medianMs: number;
  minMs: number;
  meanMs: number;
  samplesMs: number[];
}

export interface EngineSpeedResult {
  model: {
    hiddenSize: number;
    layers: number;
    heads: number;
    intermediateSize: number;
    vocabSize: number;
    params: number;
    matmulParams: number;
  };
  seq: number;
  batch: number;
  threads: number;
  quantize: 'none' | 'int4';
  /** FLOPs of one forward as counted (weight matmuls + attention) */
  forwardGflop: number;
  /** time inside ORT's run per forward */
  forward: TimingStats;
  /** wall time of model.forward (what a decoder sees) */
  forwardWall: TimingStats;
  forwardGflops: number;
  matmul: { shape: [number, number, number]; gflop: number; time: TimingStats; gflops: number };
  /** model GFLOP/s ÷ MatMul GFLOP/s in percent: median over rounds (forward vs the MatMul runs right after it) */
  efficiencyPercent: number;
  /** per-step JS overhead: (wall − run) + bookkeeping, as a percentage of run time */
  overheadPercent: number;
  overheadMs: { transferAndReadback: number; bookkeeping: number };
  /** seconds spent writing the checkpoint, compiling and loading the session */
  setupSeconds: { checkpoint: number; compileAndLoad: number };
}

function stats(samples: number[]): TimingStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { medianMs: median, minMs: sorted[0]!, meanMs: samples.reduce((s, x) => s + x, 0) / samples.length, samplesMs: samples };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new OptionError(`engine speed: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** A one-node MatMul [m, k] × [k, n] session with a constant B (prepacked like a weight). */
async function openMatMul(m: number, k: number, n: number, threads: number): Promise<{ session: OrtSession; run(): Promise<number> }> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [m, k]);
  const b = new Float32Array(k * n);
  for (let i = 0; i < b.length; i++) b[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const w = g.raw('b', 'float32', [k, n], new Uint8Array(b.buffer));
  g.output(g.matmul(a, w), 'y', 'float32', [m, n]);
  const session = await OrtSession.open(g.serialize(GRAPH_OPSETS), { name: 'matmul baseline', threads, spinning: false });
  const input = new Float32Array(m * k).fill(0.01);
  return {
    session,
    run: async () => (await session.run({ a: { type: 'float32', data: input, dims: [m, k] } }, ['y'])).runMs,
  };
}

export async function measureEngineSpeed(options: EngineSpeedOptions = {}): Promise<EngineSpeedResult> {
  const H = positiveInt('hiddenSize', options.hiddenSize ?? 768);
  const layers = positiveInt('layers', options.layers ?? 12);
  const heads = positiveInt('heads', options.heads ?? Math.max(1, Math.round(H / 64)));
  if (H % heads !== 0) throw new OptionError(`engine speed: hiddenSize ${H} is not divisible by ${heads} heads`);
  const I = positiveInt('intermediateSize', options.intermediateSize ?? Math.round((H * 8) / 3 / 256) * 256);
  const V = positiveInt('vocabSize', options.vocabSize ?? 8192);
  const seq = positiveInt('seq', options.seq ?? 256);
  const batch = positiveInt('batch', options.batch ?? 1);
  const threads = positiveInt('threads', options.threads ?? availableParallelism());
  const warmup = options.warmup ?? 2;
  const runs = positiveInt('runs', options.runs ?? 5);
  const quantize = options.quantize ?? 'none';
  const log = options.log ?? (() => {});

  const matmulParams = layers * (4 * H * H + 3 * H * I) + V * H;
  const params = matmulParams + V * H + layers * 2 * H + H;
  const tokens = batch * seq;
  const attentionFlop = layers * batch * 4 * seq * seq * H;
  const forwardFlop = 2 * matmulParams * tokens + attentionFlop;

  const dir = mkdtempSync(join(tmpdir(), 'paradec-engine-speed-'));
  try {
    log(`writing a random ${(params / 1e6).toFixed(1)}M-parameter LLaDA checkpoint to ${dir}`);
    let t = performance.now();
    writeRandomCheckpoint(join(dir, 'ckpt'), {
      architecture: 'llada', vocabSize: V, hiddenSize: H, numLayers: layers, numHeads: heads, numKvHeads: heads,
      intermediateSize: I, maxPositions: Math.max(2048, seq), seed: 1,
    });
    const checkpointSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    log('compiling and loading the graph');
    const model = await compileModel(loadCheckpoint(join(dir, 'ckpt'), { checkFinite: false }), {
      threads, cacheDir: join(dir, 'cache'), quantize, spinning: false,
    });
    const compileSeconds = (performance.now() - t) / 1000;
    if (!(model instanceof OnnxBidirectionalModel)) throw new Error('internal: llada compiled to a causal model');
    const [m, k, n] = [tokens, H, 4 * H];
    const mmGflop = (2 * m * k * n) / 1e9;
    const run: number[] = [];
    const wall: number[] = [];
    const bookkeeping: number[] = [];
    const mmSamples: number[] = [];
    const ratios: number[] = [];
    const matmul = await openMatMul(m, k, n, threads);
    try {
      const tokensIn = new Int32Array(tokens);
      for (let i = 0; i < tokens; i++) tokensIn[i] = 4 + ((i * 7919) % (V - 8));
      for (let i = 0; i < 3; i++) await matmul.run();
      log(`timing ${warmup} warmup + ${runs} forwards of [${batch}, ${seq}] with ${threads} threads, interleaved with MatMul [${m}, ${k}] × [${k}, ${n}]`);
      for (let i = 0; i < warmup + runs; i++) {
        const head = await model.forward(tokensIn, batch, seq);
        const b0 = performance.now();
        // a diffusion step's bookkeeping: rank the positions by top-1 probability
        const order = Array.from({ length: tokens }, (_, p) => p).sort((x, y) => head.topkProbs[y * head.k]! - head.topkProbs[x * head.k]!);
        if (order.length !== tokens) throw new Error('unreachable');
        const bk = performance.now() - b0;
        if (i < warmup) continue;
        const forwardMs = model.lastTiming.runMs;
        run.push(forwardMs);
        wall.push(model.lastTiming.wallMs);
        bookkeeping.push(bk);
        // MatMul runs adding up to about the forward's duration, right after it
        const round: number[] = [];
        let spent = 0;
        while (round.length < 3 || (spent < forwardMs && round.length < 200)) {
          const ms = await matmul.run();
          round.push(ms);
          spent += ms;
        }
        mmSamples.push(...round);
        const roundMm = stats(round).medianMs;
        ratios.push((100 * (forwardFlop / forwardMs)) / ((mmGflop * 1e9) / roundMm));
      }
    } finally {
      await Promise.all([model.dispose(), matmul.session.dispose()]);
    }
    const forward = stats(run);
    const forwardWall = stats(wall);
    const mm = stats(mmSamples);
    const forwardGflops = forwardFlop / 1e9 / (forward.medianMs / 1000);
    const mmGflops = mmGflop / (mm.medianMs / 1000);
    const transfer = stats(wall.map((w, i) => w - run[i]!)).medianMs;
    const book = stats(bookkeeping).medianMs;
    return {
      model: { hiddenSize: H, layers, heads, intermediateSize: I, vocabSize: V, params, matmulParams },
      seq, batch, threads, quantize,
      forwardGflop: forwardFlop / 1e9,
      forward, forwardWall, forwardGflops,
      matmul: { shape: [m, k, n], gflop: mmGflop, time: mm, gflops: mmGflops },
      efficiencyPercent: stats(ratios).medianMs,
      overheadPercent: (100 * (transfer + book)) / forward.medianMs,
      overheadMs: { transferAndReadback: transfer, bookkeeping: book },
      setupSeconds: { checkpoint: checkpointSeconds, compileAndLoad: compileSeconds },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A human-readable report of a result. */
export function formatEngineSpeed(r: EngineSpeedResult): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  return [
    `model: ${f(r.model.params / 1e6)}M params (hidden ${r.model.hiddenSize}, ${r.model.layers} layers, ${r.model.heads} heads, mlp ${r.model.intermediateSize}, vocab ${r.model.vocabSize})${r.quantize === 'int4' ? ', int4' : ''}`,
    `forward [${r.batch}, ${r.seq}], ${r.threads} threads: ${f(r.forward.medianMs)} ms in ORT (median; wall ${f(r.forwardWall.medianMs)} ms), ${f(r.forwardGflop, 2)} GFLOP → ${f(r.forwardGflops)} GFLOP/s`,
    `ORT MatMul [${r.matmul.shape.join(', ')}]: ${f(r.matmul.time.medianMs, 2)} ms → ${f(r.matmul.gflops)} GFLOP/s`,
    `efficiency: ${f(r.efficiencyPercent)}% of MatMul (median over interleaved rounds; target ≥ 60%)`,
    `JS overhead per step: ${f(r.overheadMs.transferAndReadback, 2)} ms transfer/readback + ${f(r.overheadMs.bookkeeping, 2)} ms bookkeeping = ${f(r.overheadPercent, 2)}% of the forward (target < 5%)`,
  ].join('\n');
}

/** `paradec bench-engine [--hidden 768 --layers 12 --seq 256 --runs 5 --threads N --int4 --json]` */
export async function runEngineSpeedCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      hidden: { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' }, intermediate: { type: 'string' },
      vocab: { type: 'string' }, seq: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' },
      runs: { type: 'string' }, warmup: { type: 'string' }, int4: { type: 'boolean' }, json: { type: 'boolean' },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new OptionError(`--${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
  const opts: EngineSpeedOptions = { log: values.json ? () => {} : (l) => process.stderr.write(`${l}\n`) };
  const set = <K extends keyof EngineSpeedOptions>(key: K, v: EngineSpeedOptions[K] | undefined) => {
    if (v !== undefined) opts[key] = v;
  };
  set('hiddenSize', num('hidden', values.hidden));
  set('layers', num('layers', values.layers));
  set('heads', num('heads', values.heads));
  set('intermediateSize', num('intermediate', values.intermediate));
  set('vocabSize', num('vocab', values.vocab));
  set('seq', num('seq', values.seq));
  set('batch', num('batch', values.batch));
  set('threads', num('threads', values.threads));
  set('runs', num('runs', values.runs));
  set('warmup', num('warmup', values.warmup));
  if (values.int4) opts.quantize = 'int4';
  const result = await measureEngineSpeed(opts);
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEngineSpeed(result)}\n`);
}
