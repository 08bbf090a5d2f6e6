/**
 * `paradec generate`: one prompt (text streamed to stdout, or --json), or a JSONL batch.
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.js';
import { generate, generateBatch, loadModel, type CacheMode, type GenerateOptions, type GenerationResult, type LoadOptions, type ParadecModel } from '../api.js';
import { CACHE_MODES } from '../decode/diffusion/cache.js';
import { parseSetFlags } from '../decode/params.js';
import { dtypeFlag, eosFillFlag, parseFlags } from './flags.js';
import { loadProgress } from './load-progress.js';
import { progressBar } from './progress.js';

const FLAGS = {
  model: { type: 'string' },
  strategy: { type: 'string' },
  set: { type: 'string', multiple: true },
  'gen-length': { type: 'string' },
  steps: { type: 'string' },
  'block-length': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'cfg-scale': { type: 'string' },
  cache: { type: 'string' },
  'eos-fill': { type: 'boolean' },
  'no-eos-fill': { type: 'boolean' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  threads: { type: 'string' },
  dtype: { type: 'string' },
  'no-memory-check': { type: 'boolean' },
  json: { type: 'boolean' },
  input: { type: 'string' },
  output: { type: 'string' },
  'batch-size': { type: 'string' },
} as const;

function num(flag: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InputError(`--${flag} must be ${integer ? 'an integer' : 'a number'} (got '${v}')`);
  }
  return n;
}

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

/**
 * `--set` keys that configure the diffusion KV cache rather than the strategy (no strategy has
 * parameters of these names): `refresh` (full refresh every N forwards), and the mode sizes
 * `cache_active`, `cache_window`, `cache_margin`.
 */
const CACHE_SET_KEYS = { refresh: 'refresh', cache_active: 'active', cache_window: 'window', cache_margin: 'margin' } as const;

export function generateOptionsFromFlags(values: Values): GenerateOptions {
  const set = parseSetFlags(values.set ?? []);
  const cacheOptions: { active?: number; window?: number; margin?: number } = {};
  let cacheRefresh: number | undefined;
  for (const [key, field] of Object.entries(CACHE_SET_KEYS)) {
    if (!(key in set)) continue;
    const v = num(`set ${key}`, set[key]);
    delete set[key];
    if (field === 'refresh') cacheRefresh = v;
    else cacheOptions[field] = v;
  }
  if (values.cache !== undefined && !(CACHE_MODES as readonly string[]).includes(values.cache)) {
    throw new InputError(`--cache must be one of ${CACHE_MODES.join(', ')} (got '${values.cache}')`);
  }
  const eosFill = eosFillFlag(values);
  return {
    strategy: values.strategy,
    strategyOptions: set,
    genLength: num('gen-length', values['gen-length']),
    steps: num('steps', values.steps),
    blockLength: num('block-length', values['block-length']),
    maxTokens: num('max-tokens', values['max-tokens']),
    temperature: num('temperature', values.temperature, false),
    topP: num('top-p', values['top-p'], false),
    topK: num('top-k', values['top-k']),
    cfgScale: num('cfg-scale', values['cfg-scale'], false),
    seed: num('seed', values.seed),
    stop: values.stop,
    ...(eosFill !== undefined ? { eosFill } : {}),
    ...(values.cache !== undefined ? { cache: values.cache as CacheMode } : {}),
    ...(cacheRefresh !== undefined ? { cacheRefresh } : {}),
    ...(Object.keys(cacheOptions).length ? { cacheOptions } : {}),
  };
}

/**
 * The target's ORT threads: --threads, else the library default — except for PEARL, whose draft
 * runs beside the target's forward and needs a core of its own (with one ORT thread per core the
 * target's second thread takes the draft's core, and the overlap is lost).
 */
function targetThreads(values: { threads?: string | undefined; strategy?: string | undefined }): number | undefined {
  const given = num('threads', values.threads);
  if (given !== undefined || values.strategy !== 'pearl') return given;
  return Math.max(1, availableParallelism() - 1);
}

/** How the model loads: its threads and dtype (checked before the prompt is looked at), and a progress report when it is big (load-progress.ts). */
export function loadOptionsFromFlags(values: Values): LoadOptions {
  const dtype = dtypeFlag(values.dtype);
  const onProgress = loadProgress([values.model]);
  return {
    threads: targetThreads(values),
    ...(dtype !== undefined ? { dtype } : {}),
    ...(values['no-memory-check'] ? { checkMemory: false } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
}

export async function commandGenerate(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const options = generateOptionsFromFlags(values);
  loadOptionsFromFlags(values);
  if (values.input) {
    if (!values.output) throw new InputError('--input needs --output FILE for the results');
    const model = await loadModel(values.model, loadOptionsFromFlags(values));
    try {
      await runBatch(model, values.input, values.output, options, num('batch-size', values['batch-size']) ?? 8);
    } finally {
      await model.dispose();
    }
    return;
  }
  if (positionals.length !== 1) throw new InputError('give exactly one prompt (quote it), or --input FILE');
  const model = await loadModel(values.model, loadOptionsFromFlags(values));
  try {
    const it = generate(model, positionals[0]!, options);
    let final: GenerationResult | undefined;
    for (;;) {
      const n = await it.next();
      if (n.done) {
        final = n.value;
        break;
      }
      if (n.value.type === 'text' && !values.json) process.stdout.write(n.value.delta);
    }
    if (values.json) {
      process.stdout.write(JSON.stringify({ model: model.name, dtype: model.dtype, strategy: options.strategy ?? null, ...final, committedAt: undefined }) + '\n');
    } else {
      process.stdout.write('\n');
      process.stderr.write(summaryLine(model.name, final) + '\n');
    }
  } finally {
    await model.dispose();
  }
}

/**
 * The human summary of one generation: tokens, forward passes (full ones with a KV cache), the
 * work (positions computed; a draft model's apart), tokens per forward, time, and for diffusion
 * which schedule ran and whether the end-of-text fill was on.
 */
export function summaryLine(modelName: string, r: GenerationResult): string {
  const full = r.fullForwards !== undefined && r.fullForwards !== r.nfe ? ` (${r.fullForwards} full)` : '';
  const draft = r.draftWork ? ` + ${r.draftWork} draft` : '';
  let line =
    `[${modelName}] ${r.usage.completionTokens} tokens, ${r.nfe} forward ${r.nfe === 1 ? 'pass' : 'passes'}${full}, ` +
    `work ${r.work}${draft} positions, ${r.tokensPerForward.toFixed(2)} tokens/forward, ${r.ms.toFixed(0)} ms`;
  const s = r.schedule;
  if (s) {
    const which = s.kind === 'steps' ? `the base schedule (steps ${s.steps})` : s.kind === 'strategy' ? `the strategy's own (steps ${s.steps} not used)` : `mixed (steps ${s.steps} at ${s.baseSteps} of ${s.baseSteps + s.strategySteps} steps)`;
    const oneToken = s.kind !== 'steps' && s.oneTokenSteps > 0 ? `, ${s.oneTokenSteps} of ${r.nfe} forwards committed one token` : '';
    line += `; schedule: ${which}${oneToken}; end-of-text fill ${s.eosFill ? 'on' : 'off'}`;
  }
  return line;
}

interface BatchRow {
  id: string;
  prompt: string;
}

async function readJsonl(file: string): Promise<BatchRow[]> {
  const rows: BatchRow[] = [];
  let line = 0;
  const stream = createReadStream(file, 'utf8');
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (e) => reject(new InputError(`${file}: cannot read (${e.message})`)));
  });
  await opened;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line += 1;
    if (!text.trim()) continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      throw new InputError(`${file}:${line}: not valid JSON`);
    }
    const r = row as { id?: unknown; prompt?: unknown };
    if (typeof r.prompt !== 'string') throw new InputError(`${file}:${line}: 'prompt' must be a string`);
    rows.push({ id: r.id === undefined ? String(rows.length) : String(r.id), prompt: r.prompt });
  }
  return rows;
}

async function runBatch(model: ParadecModel, input: string, output: string, options: GenerateOptions, batchSize: number): Promise<void> {
  const rows = await readJsonl(input);
  const bar = progressBar('generate', rows.length, ' | {tpf} tokens/forward');
  const out: string[] = [];
  let tokens = 0;
  let nfe = 0;
  for (let i = 0; i < rows.length; i += batchSize) {
    const chunk = rows.slice(i, i + batchSize);
    const started = performance.now();
    const results = await generateBatch(model, chunk.map((r) => r.prompt), options);
    const ms = (performance.now() - started) / chunk.length;
    results.forEach((r, j) => {
      tokens += r.usage.completionTokens;
      nfe += r.nfe;
      const full = options.cache !== undefined && options.cache !== 'none' ? { full_forwards: r.fullForwards } : {};
      const draft = r.draftWork !== undefined ? { draft_work: r.draftWork } : {};
      out.push(JSON.stringify({ id: chunk[j]!.id, text: r.text, nfe: r.nfe, ...full, work: r.work, ...draft, completion_tokens: r.usage.completionTokens, ms: Math.round(ms) }));
    });
    bar.update(Math.min(rows.length, i + chunk.length), { tpf: nfe ? (tokens / nfe).toFixed(2) : '0' });
  }
  bar.stop();
  writeFileSync(output, out.join('\n') + (out.length ? '\n' : ''));
  process.stderr.write(`wrote ${rows.length} results to ${output}\n`);
}
