/**
 * `paradec bench-serve`: the serving benchmark (src/bench/serve-bench.ts) against a running
 * server (`--url`) or one it starts (`paradec serve` in a child process, so the clients and the
 * server do not share an event loop), at a concurrency, a request rate, or a sweep over
 * concurrency 1, 2, 4, 8, 16. Writes serve-bench.json and serve-bench.md (and throughput.svg
 * for a sweep) into --out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { PACKAGE_ROOT, VERSION } from '../model/locate.js';
import { parseSetFlags } from '../decode/params.js';
import { isTaskName, type TaskName } from '../tasks/suite.js';
import { levelsTable, loadLabel, runLevel, type LevelResult, type Load, type ServeBenchTarget } from '../bench/serve-bench.js';
import { PALETTE, renderPlot } from '../bench/svg.js';

const FLAGS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  model: { type: 'string' },
  strategy: { type: 'string' },
  set: { type: 'string', multiple: true },
  'max-tokens': { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  sweep: { type: 'boolean' },
  requests: { type: 'string' },
  warmup: { type: 'string' },
  seed: { type: 'string' },
  tasks: { type: 'string' },
  out: { type: 'string' },
  parallel: { type: 'string' },
  threads: { type: 'string' },
  'no-batching': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const BENCH_SERVE_USAGE = `usage: paradec bench-serve [--url URL | --model NAME|DIR] [--strategy NAME] [--set key=value ...]
                           [--concurrency 8 | --rate R | --sweep] [--requests N] [--warmup N]
                           [--max-tokens N] [--seed 1] [--tasks a,b] [--out DIR]
                           [--parallel N] [--threads N] [--no-batching] [--api-key KEY]
  --url          measure a running server; without it, \`paradec serve --model NAME\` is started
                 (--parallel, --threads and --no-batching go to it; default model tiny-dlm)
  --concurrency  N clients, each sending its next request when the last one ends (default 8)
  --rate         requests per second, Poisson arrivals (no client limit)
  --sweep        concurrency 1, 2, 4, 8, 16: throughput against concurrency (throughput.svg)
  --requests     measured requests per level (default: 8 × concurrency, at least 16)
  --strategy, --set, --max-tokens   request fields (strategy, strategy_options, max_tokens)`;

function int(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InputError(`--${flag} must be an integer >= ${min} (got '${v}')`);
  return n;
}

/** `paradec serve` in a child process on a free port; resolves with its URL once it listens. */
async function startChildServer(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const bin = join(PACKAGE_ROOT, 'bin', 'paradec.js');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      log += d;
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new InputError(`paradec serve exited (${code}) before listening: ${log.trim().split('\n').pop() ?? ''}`)));
  });
  return { url, child };
}

export async function commandBenchServe(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(BENCH_SERVE_USAGE + '\n');
    return;
  }
  if (positionals.length > 0) throw new InputError(`unexpected argument '${positionals[0]}'\n${BENCH_SERVE_USAGE}`);
  const modes = [values.concurrency !== undefined, values.rate !== undefined, values.sweep === true].filter(Boolean).length;
  if (modes > 1) throw new InputError('give one of --concurrency, --rate and --sweep');
  if (values.url && (values.parallel || values.threads || values['no-batching'])) throw new InputError('--parallel, --threads and --no-batching configure a server bench-serve starts; not with --url');
  let loads: Load[];
  if (values.sweep) loads = [1, 2, 4, 8, 16].map((c) => ({ concurrency: c }));
  else if (values.rate !== undefined) {
    const rate = Number(values.rate);
    if (!(rate > 0) || !Number.isFinite(rate)) throw new InputError(`--rate must be a positive number (got '${values.rate}')`);
    loads = [{ rate }];
  } else loads = [{ concurrency: int('concurrency', values.concurrency, 1) ?? 8 }];
  const tasks = values.tasks?.split(',').map((t) => t.trim());
  for (const t of tasks ?? []) if (!isTaskName(t)) throw new InputError(`--tasks: unknown task '${t}'`);
  const seed = int('seed', values.seed, 0) ?? 1;
  const fields: Record<string, unknown> = {};
  if (values.strategy) fields['strategy'] = values.strategy;
  if (values.set?.length) fields['strategy_options'] = parseSetFlags(values.set);
  const maxTokens = int('max-tokens', values['max-tokens'], 1);
  if (maxTokens !== undefined) fields['max_tokens'] = maxTokens;
  const out = values.out ?? 'bench-serve-out';

  let child: ChildProcess | undefined;
  let url = values.url?.replace(/\/+$/, '');
  const model = values.url ? values.model : undefined;
  if (!url) {
    const largest = Math.max(...loads.map((l) => ('concurrency' in l ? l.concurrency : 16)));
    const args = ['--model', values.model ?? 'tiny-dlm', '--parallel', values.parallel ?? String(largest), '--queue', String(Math.max(64, largest))];
    if (values.threads) args.push('--threads', values.threads);
    if (values['no-batching']) args.push('--no-batching');
    ({ url, child } = await startChildServer(args));
    process.stderr.write(`bench-serve: started paradec serve ${args.join(' ')} at ${url}\n`);
  }
  const target: ServeBenchTarget = { url, apiKey: values['api-key'] ?? process.env['PARADEC_API_KEY'] ?? null, ...(model ? { model } : {}), fields };
  const levels: LevelResult[] = [];
  try {
    for (const load of loads) {
      const concurrency = 'concurrency' in load ? load.concurrency : 8;
      const requests = int('requests', values.requests, 1) ?? Math.max(16, 8 * concurrency);
      const warmup = int('warmup', values.warmup, 0);
      process.stderr.write(`bench-serve: ${loadLabel(load)}, ${requests} requests…\n`);
      const level = await runLevel(target, { load, requests, seed, ...(warmup !== undefined ? { warmup } : {}), ...(tasks ? { tasks: tasks as TaskName[] } : {}) });
      levels.push(level);
      process.stderr.write(`  ${level.outputTokensPerS.toFixed(0)} output tok/s, ${level.requestsPerS.toFixed(2)} req/s, ${level.errors} errors\n`);
    }
  } finally {
    child?.kill('SIGTERM');
  }
  const command = `paradec bench-serve ${argv.join(' ')}`.trim();
  const server = values.url ? url : `paradec serve --model ${values.model ?? 'tiny-dlm'}${values['no-batching'] ? ' --no-batching' : ''}`;
  const report = [
    `# paradec bench-serve`,
    '',
    `\`${command}\` — paradec ${VERSION}, ${new Date().toISOString()}; server: ${server}; request fields: \`${JSON.stringify(fields)}\``,
    '',
    levelsTable(levels),
    '',
    ...levels.filter((l) => l.errors > 0).map((l) => `- ${loadLabel(l.load)}: ${l.errors} errors, e.g. ${l.errorSamples[0]}`),
  ].join('\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'serve-bench.json'), JSON.stringify({ version: 1, command, server, fields, levels }, null, 2) + '\n');
  writeFileSync(join(out, 'serve-bench.md'), report + '\n');
  if (values.sweep) {
    const svg = renderPlot({
      title: 'Output tokens per second against concurrent clients',
      subtitle: server,
      xLabel: 'concurrent clients',
      yLabel: 'output tokens / s',
      xScale: 'log',
      series: [{ name: values.strategy ?? 'default strategy', color: PALETTE[0], points: levels.map((l) => ({ x: (l.load as { concurrency: number }).concurrency, y: l.outputTokensPerS })) }],
    });
    writeFileSync(join(out, 'throughput.svg'), svg);
  }
  process.stdout.write(report + '\n');
  process.stderr.write(`bench-serve: wrote ${join(out, 'serve-bench.json')}, serve-bench.md${values.sweep ? ', throughput.svg' : ''}\n`);
}
