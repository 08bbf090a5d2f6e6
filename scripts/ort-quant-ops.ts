/**
 * What ONNX Runtime's CPU provider does with low-precision weights (docs/scale.md, "Data types"):
 *
 * 1. Which ops run: MatMulNBits at 4 and 8 bits (accuracy levels 0 and 4), its scales as [N·blocks]
 *    and [N, blocks], GatherBlockQuantized at 4 and 8 bits, fp16 MatMul / FusedMatMul / Gemm —
 *    each a one-node graph checked against the dequantized weights in JavaScript.
 * 2. What the weights cost in memory: a session over 8 linears of [4096, 4096] held as fp32, as fp16
 *    through a Cast, as fp16 feeding an fp16 matmul, and as MatMulNBits int8 / int4 (accuracy levels
 *    4 and 0); each loaded in
 *    a fresh process from a file on disk, reporting the growth of its anonymous memory, and the
 *    time of a 64-token forward on one thread.
 *
 *   node --import tsx scripts/ort-quant-ops.ts [--no-memory]
 *
 * A development tool; it does not ship.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Graph, MICROSOFT } from '../src/runtime/graph.js';
import { dequantizeBlocks, quantizeBlocks, type QuantBits } from '../src/runtime/quantize.js';

const OPSETS = { '': 23, [MICROSOFT]: 1 };
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const noise = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** float32 → IEEE half (round toward zero; enough for a probe). */
function half(f: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, f);
  const x = v.getUint32(0);
  const e = ((x >>> 23) & 0xff) - 112;
  return ((x >>> 16) & 0x8000) | (e <= 0 ? 0 : (e << 10) | ((x >>> 13) & 0x3ff));
}

async function tryRun(g: Graph, feeds: Record<string, ort.Tensor>): Promise<Float32Array | string> {
  try {
    const session = await ort.InferenceSession.create(g.serialize(OPSETS), { executionProviders: ['cpu'], logSeverityLevel: 3 });
    const out = await session.run(feeds);
    return Float32Array.from(out['y']!.data as Float32Array, Number);
  } catch (e) {
    return `fails: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function probeOps(): Promise<void> {
  const [M, K, N] = [3, 128, 64];
  const w = noise(N * K, 1);
  const xs = noise(M * K, 2);
  const x = new ort.Tensor('float32', xs, [M, K]);
  const matmul = (wt: Float32Array): Float32Array => {
    const y = new Float32Array(M * N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) y[m * N + n]! += xs[m * K + k]! * wt[n * K + k]!;
    return y;
  };
  const say = (what: string, r: Float32Array | string, want?: Float32Array) =>
    process.stdout.write(`${what}: ${typeof r === 'string' ? r : `runs, max |difference| from the dequantized weights' result ${maxDiff(r, want!).toExponential(1)}`}\n`);
  for (const bits of [4, 8] as QuantBits[]) {
    const q = quantizeBlocks(w, N, K, bits, 32);
    const want = matmul(dequantizeBlocks(q));
    for (const level of [0, 4]) {
      for (const scales of [[N * q.blocksPerRow], [N, q.blocksPerRow], [N, q.blocksPerRow, 1]]) {
        const g = new Graph('probe');
        const B = g.raw('B', 'uint8', [N, q.blocksPerRow, (32 * bits) / 8], q.packed);
        const S = g.raw('S', 'float32', scales, bytes(q.scales));
        g.output(g.node('MatMulNBits', [g.input('x', 'float32', [M, K]), B, S], { K, N, bits, block_size: 32, accuracy_level: level }, MICROSOFT), 'y', 'float32');
        say(`MatMulNBits bits ${bits}, accuracy_level ${level}, scales [${scales.join(', ')}]`, await tryRun(g, { x }), want);
      }
    }
    const g = new Graph('probe');
    const B = g.raw('B', 'uint8', [N, q.blocksPerRow, (32 * bits) / 8], q.packed);
    const S = g.raw('S', 'float32', [N, q.blocksPerRow, 1], bytes(q.scales));
    const rows = g.node('GatherBlockQuantized', [B, g.input('ids', 'int64', [2]), S], { bits, block_size: 32, gather_axis: 0, quantize_axis: 2 }, MICROSOFT);
    g.output(g.reshape(rows, [0, -1]), 'y', 'float32');
    const dq = dequantizeBlocks(q);
    const ids = [5, 63];
    say(`GatherBlockQuantized bits ${bits}, data [N, blocks, block bytes]`, await tryRun(g, { ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [2]) }), Float32Array.from(ids.flatMap((r) => Array.from(dq.subarray(r * K, r * K + K)))));
  }
  const wh = Uint16Array.from(w, half);
  const xh = new ort.Tensor('float16', Uint16Array.from(xs, half), [M, K]);
  for (const op of ['MatMul', 'FusedMatMul', 'Gemm']) {
    const g = new Graph('probe');
    const xi = g.input('x', 'float16', [M, K]);
    const B = g.raw('B', 'float16', [N, K], bytes(wh));
    const y = op === 'MatMul' ? g.matmul(xi, g.transpose(B, [1, 0])) : op === 'FusedMatMul' ? g.linearT(xi, B) : g.node('Gemm', [xi, B], { transB: 1 });
    g.output(g.cast(y, 'float32'), 'y', 'float32');
    say(`${op} fp16`, await tryRun(g, { x: xh }), matmul(w));
  }
}

/** int8 / int4: MatMulNBits at accuracy_level 4 (int8 activations, what paradec compiles); -level0: float activations */
const FORMS = ['fp32', 'fp16-cast', 'fp16-matmul', 'int8', 'int8-level0', 'int4', 'int4-level0'] as const;
type Form = (typeof FORMS)[number];
const [MM, KM, NM, LAYERS] = [64, 4096, 4096, 8];

/** Write a graph of LAYERS linears [NM, KM] in `form`, its weights in a file beside it. */
function writeModel(dir: string, form: Form): string {
  const fd = openSync(join(dir, `${form}.bin`), 'w');
  let offset = 0;
  const ext = (g: Graph, name: string, type: 'float32' | 'float16' | 'uint8', dims: number[], data: Uint8Array): string => {
    writeSync(fd, data);
    const n = g.external(name, type, dims, { location: `${form}.bin`, offset, length: data.byteLength });
    offset += data.byteLength;
    return n;
  };
  const g = new Graph(form);
  let x = g.input('x', 'float32', [MM, KM]);
  // one matrix computed once (computing eight in JavaScript takes minutes), each layer's copy made
  // to differ in its first byte: ORT holds initializers of equal content once, which would hide the cost
  const w = noise(NM * KM, 0).map((v) => v * 0.05);
  const w16 = form.startsWith('fp16') ? bytes(Uint16Array.from(w, half)) : undefined;
  const q = form.startsWith('int') ? quantizeBlocks(w, NM, KM, form.startsWith('int8') ? 8 : 4, 32) : undefined;
  const variant = (data: Uint8Array, l: number): Uint8Array => {
    const copy = data.slice();
    copy[0] = (copy[0]! + l) & 0xff;
    return copy;
  };
  for (let l = 0; l < LAYERS; l++) {
    if (form === 'fp32') x = g.linearT(x, ext(g, 'w', 'float32', [NM, KM], variant(bytes(w), l)));
    else if (form === 'fp16-cast') x = g.linearT(x, g.cast(ext(g, 'w', 'float16', [NM, KM], variant(w16!, l)), 'float32'));
    else if (form === 'fp16-matmul') x = g.cast(g.linearT(g.cast(x, 'float16'), ext(g, 'w', 'float16', [NM, KM], variant(w16!, l))), 'float32');
    else {
      const bits = q!.bits;
      const B = ext(g, 'B', 'uint8', [NM, q!.blocksPerRow, (32 * bits) / 8], variant(q!.packed, l));
      const S = ext(g, 'S', 'float32', [NM, q!.blocksPerRow], bytes(q!.scales));
      x = g.node('MatMulNBits', [x, B, S], { K: KM, N: NM, bits, block_size: 32, accuracy_level: form.endsWith('level0') ? 0 : 4 }, MICROSOFT);
    }
  }
  g.output(x, 'y', 'float32');
  closeSync(fd);
  const path = join(dir, `${form}.onnx`);
  writeFileSync(path, g.serialize(OPSETS));
  return path;
}

/** The child: open the session, report the growth of anonymous memory and a forward's time. */
async function measure(path: string): Promise<void> {
  const anon = (): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  const before = anon();
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 3, intraOpNumThreads: 1 });
  const after = anon();
  const feeds = { x: new ort.Tensor('float32', new Float32Array(MM * KM).fill(0.1), [MM, KM]) };
  await session.run(feeds);
  const t = performance.now();
  for (let i = 0; i < 3; i++) await session.run(feeds);
  process.stdout.write(JSON.stringify({ mb: after - before, ms: (performance.now() - t) / 3 }) + '\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return measure(argv[1]!);
  await probeOps();
  if (argv.includes('--no-memory')) return;
  const dir = mkdtempSync(join(tmpdir(), 'paradec-ort-ops-'));
  try {
    process.stdout.write(`\n${LAYERS} linears [${NM}, ${KM}] (${(LAYERS * NM * KM / 1e6).toFixed(0)}M parameters; ${(LAYERS * NM * KM * 4 / 2 ** 20).toFixed(0)} MiB as fp32), a ${MM}-token forward on 1 thread\n`);
    process.stdout.write('| weights | on disk | session memory (anonymous) | bytes / parameter | forward |\n|---|---|---|---|---|\n');
    for (const form of FORMS) {
      const path = writeModel(dir, form);
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', path], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${form}: ${r.stderr}`);
      const { mb, ms } = JSON.parse(r.stdout.trim()) as { mb: number; ms: number };
      const disk = readFileSync(path.replace(/\.onnx$/, '.bin')).byteLength / 2 ** 20;
      process.stdout.write(`| ${form} | ${disk.toFixed(0)} MiB | ${mb.toFixed(0)} MiB | ${((mb * 2 ** 20) / (LAYERS * NM * KM)).toFixed(2)} | ${ms.toFixed(0)} ms |\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
