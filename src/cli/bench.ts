/**
 * `paradec bench`: decoding quality and speed of every strategy on the task suite (src/bench/run.ts).
 *
 *   paradec bench [--model DIR ...] [--strategies a,b,...] [--sweep key=v1,v2,...]
 *                 [--tasks t1,t2|zero|dependent] [--n N] [--seed S] [--out DIR] [--quick]
 */
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { parseSweep } from '../bench/settings.js';
import { parseArgs } from 'node:util';
import { loadProgress } from './load-progress.js';
import { progressBar, type Progress } from './progress.js';
import { dtypeFlag, eosFillFlag } from './flags.js';

const FLAGS = {
  model: { type: 'string', multiple: true },
  strategies: { type: 'string' },
  sweep: { type: 'string', multiple: true },
  tasks: { type: 'string' },
  n: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  quick: { type: 'boolean' },
  'no-grid': { type: 'boolean' },
  'no-oracle': { type: 'boolean' },
  'no-engine': { type: 'boolean' },
  'engine-runs': { type: 'string' },
  'gen-length': { type: 'string' },
  steps: { type: 'string' },
  'block-length': { type: 'string' },
  'eos-fill': { type: 'boolean' },
  'no-eos-fill': { type: 'boolean' },
  'max-tokens': { type: 'string' },
  threads: { type: 'string' },
  dtype: { type: 'string' },
  'no-memory-check': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const BENCH_USAGE = `paradec bench — score, forward passes and speed of every decoding strategy on the task suite

usage: paradec bench [options]
  --model DIR         a model directory or built-in name; repeat or comma-separate to bench several
                      (diffusion and autoregressive together; default: tiny-dlm, plus tiny-ar if present)
  --strategies a,b    strategies to run, matched to the models' families (default: all; --quick: a few)
  --sweep k=v1,v2     replace parameter k's values in every strategy that has it (strategy.k=... for one);
                      several --sweep flags combine as a product; gen_length/steps/block_length/max_tokens too
  --no-grid           no built-in grids: each strategy at its defaults, except what --sweep sets
  --tasks LIST        task names, or zero / dependent / all (default: all 12)
  --n N               instances per task (default 20; --quick 5)
  --seed S            suite and decoding seed (default 0)
  --out DIR           output directory (default bench-out)
  --quick             6 tasks × 5 instances, a small strategy set, short engine timing (< 3 min on 2 cores)
  --no-oracle         skip the oracle strategy runs
  --no-engine         skip the engine-speed section
  --engine-runs N     timed forwards of the engine-speed model (default 5; --quick 3)
  --gen-length N --steps N --block-length N   diffusion generation options (default: the model's canvas)
  --no-eos-fill       diffusion: no end-of-text fill, so a base-schedule run takes exactly --steps passes
                      (default: on; the report says which; --sweep eos_fill=true,false runs both)
  --max-tokens N      autoregressive token limit (default: the model's canvas)
  --threads N         ONNX Runtime threads
  --dtype D[,D...]    the models' weights: fp32, int8, int4 or auto (default); several run each model
                      once per dtype, named model@dtype
  --no-memory-check   load even when the memory estimate says a model will not fit

writes DIR/results.jsonl (one row per instance and setting), summary.json, report.md and SVG plots.`;

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new InputError(`--${flag} must be an integer (got '${v}')`);
  return n;
}

export async function commandBench(argv: string[]): Promise<void> {
  // parseArgs directly: importing ./main.js from a lazily loaded command would wait on main's own top-level await
  const { values, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(BENCH_USAGE + '\n');
    return;
  }
  if (positionals.length) throw new InputError(`unexpected argument '${positionals[0]}' (see paradec bench --help)`);
  const { runBench } = await import('../bench/run.js');
  const { parseTasks } = await import('../bench/plan.js');
  const { writeBenchOutputs } = await import('../bench/outputs.js');
  const { frontierTable } = await import('../bench/report.js');
  const models = (values.model ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  const out = resolve(values.out ?? 'bench-out');
  let bar: Progress | null = null;
  const log = (line: string) => {
    if (!bar) process.stderr.write(`${line}\n`);
  };
  const engineRuns = num('engine-runs', values['engine-runs']);
  const result = await runBench({
    models,
    strategies: values.strategies?.split(',').map((s) => s.trim()).filter(Boolean),
    sweeps: (values.sweep ?? []).map(parseSweep),
    grid: !values['no-grid'],
    tasks: values.tasks !== undefined ? parseTasks(values.tasks) : undefined,
    n: num('n', values.n),
    seed: num('seed', values.seed),
    quick: values.quick ?? false,
    oracle: !values['no-oracle'],
    engine: values['no-engine'] ? false : engineRuns !== undefined ? { runs: engineRuns } : true,
    genLength: num('gen-length', values['gen-length']),
    steps: num('steps', values.steps),
    blockLength: num('block-length', values['block-length']),
    eosFill: eosFillFlag(values),
    maxTokens: num('max-tokens', values['max-tokens']),
    threads: num('threads', values.threads),
    ...(values.dtype !== undefined ? { dtypes: values.dtype.split(',').map((d) => dtypeFlag(d.trim())!) } : {}),
    ...(values['no-memory-check'] ? { checkMemory: false } : {}),
    command: ['paradec', 'bench', ...argv].join(' '),
    log,
    loadProgress: (dir) => loadProgress([dir]),
    onProgress: (done, total, label) => {
      bar ??= progressBar('bench', total, ' | {setting}');
      bar.update(done, { setting: label });
      if (done === total) {
        bar.stop();
        bar = null;
      }
    },
  });
  const files = writeBenchOutputs(out, result);
  const s = result.summary;
  process.stdout.write(`${frontierTable(s)}\n\n`);
  process.stdout.write(`paradec bench: ${s.settings.filter((x) => x.kind === 'setting').length} settings × ${result.rows.filter((r) => r.kind === 'setting').length ? s.tasks.length * s.n : 0} instances in ${s.wallSeconds.toFixed(1)} s; wrote ${files.length} files to ${out} (report.md)\n`);
  for (const m of s.models.filter((m) => m.midTraining)) process.stdout.write(`note: ${m.name} was mid-training (${m.training})\n`);
}
