/**
 * `paradec bench`: strategies × settings × the task suite, on one or more models (diffusion and
 * autoregressive together), with the per-instance oracle, ETE's rounds bound, the Pareto frontiers
 * and the engine-speed section. `runBench` returns the rows and the summary; `writeBenchOutputs`
 * writes results.jsonl, summary.json, report.md and the SVG plots.
 *
 * Reproducibility: the instances come from `generateSuite({seed, n, tasks})`; every generation is
 * seeded with `seedFrom(seed, instance id)` (the `random` strategy and sampling draw from it) and
 * decodes one instance at a time, so the same seed gives the same outputs, scores and forward
 * passes; only times differ.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_MODELS_DIR, defaultGenLength, encodePrompt, generateText, textUntilEos, loadModel, resolveModelDir, type GenerateOptions, type ParadecModel } from '../api.js';
import { OptionError, ParadecError } from '../errors.js';
import { diffusionScheduleOf } from '../model/architectures.js';
import { countCheckpointParams, loadCheckpoint } from '../model/checkpoint.js';
import { AUTOREGRESSIVE_STRATEGIES, DIFFUSION_STRATEGIES, findAutoregressiveStrategy, type AnyStrategyDefinition } from '../decode/registry.js';
import { runAutoregressive, type ArResult } from '../decode/autoregressive/loop.js';
import type { AutoregressiveStrategy } from '../decode/autoregressive/types.js';
import { runDiffusion, type DiffusionOptions } from '../decode/diffusion/loop.js';
import { createOracle } from '../decode/diffusion/oracle.js';
import { returnValue } from '../decode/drain.js';
import { oneTokenPerStepNll } from '../decode/diffusion/ete.js';
import type { BidirectionalModel, CausalModel } from '../runtime/types.js';
import { generateSuite, isTaskName, scoreAnswer, TASK_NAMES, ZERO_ENTROPY_TASKS, type TaskInstance, type TaskName } from '../tasks/suite.js';
import { Rng, seedFrom } from '../tasks/rng.js';
import type { EngineSpeedOptions } from './engine-speed.js';
import { GEN_KEYS, planSettings, QUICK, type Setting, type Sweep } from './settings.js';
import { applyOracles, applyRoundsBound, frontiers, groupOf, summarizeSettings } from './stats.js';
import type { BenchSummary, ModelInfo, ResultRow } from './types.js';
import { renderPlots, renderReport } from './report.js';

export interface BenchOptions {
  /** model directories or built-in names (default: tiny-dlm, plus tiny-ar when present) */
  models?: string[];
  /** strategy names (default: every strategy of each model's family; `--quick`: a small set) */
  strategies?: string[];
  sweeps?: Sweep[];
  /** use the built-in grids (default true) */
  grid?: boolean;
  tasks?: TaskName[];
  /** instances per task (default 20; quick 3) */
  n?: number;
  seed?: number;
  quick?: boolean;
  /** run the oracle strategy on diffusion models (default true) */
  oracle?: boolean;
  /** the engine-speed section: false to skip, or options for measureEngineSpeed */
  engine?: boolean | EngineSpeedOptions;
  /** base generation options (a sweep of the same key overrides them per setting) */
  genLength?: number;
  steps?: number;
  blockLength?: number;
  maxTokens?: number;
  threads?: number;
  cacheDir?: string;
  /** recorded in the summary */
  command?: string;
  onProgress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

export interface BenchResult {
  rows: ResultRow[];
  summary: BenchSummary;
}

export const DEFAULT_N = 20;

/** The models of a default run: tiny-dlm, and tiny-ar when it exists. */
export function defaultModels(): string[] {
  const out = ['tiny-dlm'];
  if (existsSync(join(BUILTIN_MODELS_DIR, 'tiny-ar', 'config.json'))) out.push('tiny-ar');
  return out;
}

/** `--tasks`: names, or `zero` / `dependent` / `all`, comma-separated. */
export function parseTasks(spec: string): TaskName[] {
  const out: TaskName[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const add = (ts: readonly TaskName[]) => ts.forEach((t) => out.includes(t) || out.push(t));
    if (part === 'all') add(TASK_NAMES);
    else if (part === 'zero' || part === 'zero-entropy') add(ZERO_ENTROPY_TASKS);
    else if (part === 'dependent') add(TASK_NAMES.filter((t) => !ZERO_ENTROPY_TASKS.includes(t)));
    else if (isTaskName(part)) add([part]);
    else throw new OptionError(`--tasks: unknown task '${part}' (tasks: ${TASK_NAMES.join(', ')}; or zero, dependent, all)`);
  }
  if (out.length === 0) throw new OptionError('--tasks: no task given');
  return out;
}

/**
 * How far the model's training got, from generation_config.json (`paradec.trainedSteps`) and the
 * model card (README.md, "| steps | A of B |") or the run's state.json. A model with a card is a
 * release: it is mid-training only when its card says so (a run stopped before the end of its
 * schedule and shipped is finished); a bare export with fewer steps than its run's schedule is a
 * snapshot of a run in progress.
 */
export function trainingStatus(dir: string): { text: string | null; mid: boolean } {
  let trained: number | null = null;
  let total: number | null = null;
  let carded = false;
  try {
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as { paradec?: { trainedSteps?: number; run?: string } };
    trained = gen.paradec?.trainedSteps ?? null;
    const run = gen.paradec?.run;
    if (run) {
      for (const base of [dir, join(dir, '..', '..'), process.cwd()]) {
        const f = join(base, run, 'state.json');
        if (existsSync(f)) {
          const st = JSON.parse(readFileSync(f, 'utf8')) as { options?: { steps?: number } };
          if (typeof st.options?.steps === 'number') total = st.options.steps;
          break;
        }
      }
    }
  } catch {
    // no generation_config.json or no paradec block: not one of paradec's trained models
  }
  try {
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    carded = true;
    const m = /\|\s*steps\s*\|\s*(\d+)\s+of\s+(\d+)/.exec(card);
    if (m) {
      trained ??= Number(m[1]);
      total = Number(m[2]);
      trained = Math.max(trained, Number(m[1]));
    }
    if (/mid-training|training in progress|still training|half-trained|partially trained/i.test(card) && !(trained !== null && total !== null && trained >= total)) {
      return { text: `model card says mid-training${trained !== null ? `; trained ${trained}${total ? ` of ${total}` : ''} steps` : ''}`, mid: true };
    }
  } catch {
    // no model card
  }
  if (trained === null) return { text: null, mid: false };
  if (total === null) return { text: `trained ${trained} steps`, mid: false };
  return { text: `trained ${trained} of ${total} steps`, mid: trained < total && !carded };
}


function selectStrategies(names: readonly string[] | undefined, families: ReadonlySet<'diffusion' | 'autoregressive'>, quick: boolean): AnyStrategyDefinition[] {
  if (!names) {
    const out: AnyStrategyDefinition[] = [];
    if (families.has('diffusion')) {
      out.push(...(quick ? DIFFUSION_STRATEGIES.filter((s) => QUICK.diffusion.includes(s.name)) : DIFFUSION_STRATEGIES.filter((s) => s.name !== 'oracle')));
    }
    if (families.has('autoregressive')) {
      out.push(...(quick ? AUTOREGRESSIVE_STRATEGIES.filter((s) => QUICK.autoregressive.includes(s.name)) : AUTOREGRESSIVE_STRATEGIES));
    }
    return out;
  }
  const out: AnyStrategyDefinition[] = [];
  for (const name of names) {
    const def = DIFFUSION_STRATEGIES.find((s) => s.name === name) ?? AUTOREGRESSIVE_STRATEGIES.find((s) => s.name === name);
    if (!def) {
      throw new OptionError(`--strategies: unknown strategy '${name}' (strategies: ${[...DIFFUSION_STRATEGIES, ...AUTOREGRESSIVE_STRATEGIES].map((s) => s.name).join(', ')})`);
    }
    if (!families.has(def.family)) throw new OptionError(`--strategies: '${name}' is ${def.family === 'autoregressive' ? 'an autoregressive' : 'a diffusion'} strategy, but no ${def.family} model is benched`);
    if (def.name === 'oracle') continue; // the oracle runs on its own (runOracle-style), see runOracleRows
    if (!out.includes(def)) out.push(def);
  }
  return out;
}

function baseGen(o: BenchOptions, family: 'diffusion' | 'autoregressive', model: ParadecModel): GenerateOptions {
  const canvas = defaultGenLength(model); // task answers + end-of-text fit the task models' 32 tokens
  if (family === 'diffusion') {
    const g: GenerateOptions = { genLength: o.genLength ?? canvas };
    if (o.steps !== undefined) g.steps = o.steps;
    if (o.blockLength !== undefined) g.blockLength = o.blockLength;
    return g;
  }
  return { maxTokens: o.maxTokens ?? canvas };
}

function genRecord(g: GenerateOptions): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, { field }] of Object.entries(GEN_KEYS)) {
    const v = g[field];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

interface PlannedModel {
  model: ParadecModel;
  info: ModelInfo;
  settings: Setting[];
}

/** Thrown by a guarded model when an instance exceeds its forward-pass limit. */
export class ForwardLimit extends Error {
  constructor(readonly limit: number) {
    super(`no end after ${limit} forward passes`);
  }
}

/**
 * A diffusion model whose forward passes are counted and capped per instance: a decoder that makes
 * no progress (e.g. an undertrained model whose top prediction is the mask token itself, which
 * leaves the position masked) is stopped after `limit` passes instead of running forever. The
 * instance is then recorded as unsolved, with `stopped` set; the cap is a count, so it is the same
 * in every run.
 */
export function guarded(model: ParadecModel): { model: ParadecModel; arm(limit: number): void; used(): number } {
  if (model.runtime.kind !== 'bidirectional') return { model, arm: () => {}, used: () => 0 };
  const inner = model.runtime;
  let count = 0;
  let limit = Infinity;
  const runtime: BidirectionalModel = {
    kind: 'bidirectional',
    vocabSize: inner.vocabSize,
    maskTokenId: inner.maskTokenId,
    maxPositions: inner.maxPositions,
    forward: (...args) => {
      if (++count > limit) return Promise.reject(new ForwardLimit(limit));
      return inner.forward(...args);
    },
  };
  return {
    model: { ...model, runtime, dispose: () => model.dispose() },
    arm: (l) => {
      count = 0;
      limit = l;
    },
    used: () => Math.min(count, limit),
  };
}

/** The forward-pass cap of one diffusion instance: generous for self-correcting strategies. */
export function forwardLimit(genLength: number): number {
  return 8 * genLength + 16;
}

/**
 * The oracle on one instance: the one-token-per-step (`confidence`, k = 1) run, scored for its
 * likelihood (ETE's `oneTokenPerStepNll`), then the oracle pass with that answer as the reference
 * (`createOracle`, exactly `runOracle`'s second pass: the same two passes, with the likelihood
 * read off the first). The row's time is the oracle pass alone.
 */
type OracleFields = Pick<ResultRow, 'output' | 'score' | 'nfe' | 'tokens' | 'tokensPerForward' | 'ms' | 'nll' | 'nllTokens' | 'stopped'>;

async function oracleRow(guard: ReturnType<typeof guarded>, inst: TaskInstance, gen: GenerateOptions, seed: number): Promise<OracleFields> {
  const model = guard.model;
  const runtime = model.runtime as BidirectionalModel;
  const ids = encodePrompt(model, inst.prompt);
  const loop: DiffusionOptions = {
    genLength: gen.genLength!,
    temperature: 0,
    cfgScale: 0,
    schedule: diffusionScheduleOf(model.config.architecture),
    rng: new Rng(seedFrom(seed, inst.id)),
  };
  if (gen.steps !== undefined) loop.steps = gen.steps;
  if (gen.blockLength !== undefined) loop.blockLength = gen.blockLength;
  let base: Awaited<ReturnType<typeof oneTokenPerStepNll>>;
  guard.arm(forwardLimit(loop.genLength));
  try {
    base = await oneTokenPerStepNll(runtime, [ids], { ...loop, eosTokenIds: model.eosTokenIds });
  } catch (e) {
    if (!(e instanceof ForwardLimit)) throw e;
    return { output: '', score: 0, nfe: guard.used(), tokens: 0, tokensPerForward: 0, ms: 0, stopped: `the one-token-per-step reference run: ${e.message}` };
  }
  const strategy = createOracle({ references: base.generated, fillSettledTail: true });
  const started = performance.now();
  guard.arm(forwardLimit(loop.genLength));
  let result;
  try {
    result = (await returnValue(runDiffusion(runtime, [ids], strategy, model.eosTokenIds, loop)))[0]!;
  } catch (e) {
    if (!(e instanceof ForwardLimit)) throw e;
    return { output: '', score: 0, nfe: guard.used(), tokens: 0, tokensPerForward: 0, ms: performance.now() - started, stopped: e.message };
  }
  const ms = performance.now() - started;
  const { text, tokens, ended } = textUntilEos(model, result.generated);
  const produced = tokens + (ended ? 1 : 0);
  return {
    output: text,
    score: scoreAnswer(inst, text),
    nfe: result.nfe,
    tokens: produced,
    tokensPerForward: result.nfe > 0 ? produced / result.nfe : 0,
    ms,
    nll: base.nll[0]!,
    nllTokens: base.nfe[0]!,
  };
}

/** One autoregressive decode: the measurement fields of a result row, plus its text. */
type InstanceResult = Pick<ResultRow, 'nfe' | 'tokens' | 'tokensPerForward' | 'ms' | 'drafted' | 'accepted' | 'draftNfe' | 'stopped'> & { text: string };

/**
 * An autoregressive setting: one strategy object for all its instances (kept alive between
 * prompts, as a serving process keeps it, and disposed at the end), so a draft model is loaded
 * once, not per instance. Stateful strategies (e.g. ADED's online n-gram table) therefore carry
 * state from one instance to the next, in instance order, which is the same in every run.
 */
class ArRunner {
  private readonly strategy: AutoregressiveStrategy;
  private readonly memo = new Map<number, string>();

  constructor(
    private readonly model: ParadecModel,
    setting: Setting,
    private readonly maxTokens: number,
    private readonly seed: number,
  ) {
    const def = findAutoregressiveStrategy(setting.strategy);
    this.strategy = def.create(setting.params);
  }

  async run(inst: TaskInstance): Promise<InstanceResult> {
    const model = this.model;
    const ids = encodePrompt(model, inst.prompt);
    const tokenText = (id: number): string => {
      let t = this.memo.get(id);
      if (t === undefined) this.memo.set(id, (t = model.tokenizer.decode([id])));
      return t;
    };
    const started = performance.now();
    const result: ArResult = await returnValue(runAutoregressive(model.runtime as CausalModel, ids, this.strategy, {
      maxTokens: this.maxTokens,
      sampling: { temperature: 0, topK: 0, topP: 1 },
      rng: new Rng(seedFrom(this.seed, inst.id)),
      eosTokenIds: model.eosTokenIds,
      tokenText,
      keepStrategy: true,
    }));
    const ms = performance.now() - started;
    const { text } = textUntilEos(model, result.generated);
    const r: InstanceResult = {
      text,
      nfe: result.nfe,
      tokens: result.generated.length,
      tokensPerForward: result.nfe > 0 ? result.generated.length / result.nfe : 0,
      ms,
      drafted: result.drafted,
      accepted: result.accepted,
    };
    if (result.draftNfe !== undefined) r.draftNfe = result.draftNfe;
    return r;
  }

  async dispose(): Promise<void> {
    await this.strategy.dispose?.();
  }
}

export async function runBench(o: BenchOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const log = o.log ?? (() => {});
  const quick = o.quick ?? false;
  const seed = o.seed ?? 0;
  const n = o.n ?? (quick ? QUICK.n : DEFAULT_N);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`--n must be a positive integer (got ${n})`);
  if (!Number.isSafeInteger(seed)) throw new OptionError(`--seed must be an integer (got ${seed})`);
  const tasks = o.tasks ?? (quick ? QUICK.tasks : [...TASK_NAMES]);
  const instances = generateSuite({ seed, n, tasks });
  const modelNames = o.models && o.models.length ? o.models : defaultModels();
  const dirs = modelNames.map((m) => resolveModelDir(m));

  // plan from the checkpoints' configs first, so that every option error comes before any compiling
  const infos: ModelInfo[] = [];
  for (const dir of dirs) {
    const ckpt = loadCheckpoint(dir, { checkFinite: false });
    const status = trainingStatus(dir);
    const base = dir.split('/').filter(Boolean).pop() ?? dir;
    const name = infos.some((m) => m.name === base) ? `${base}#${infos.length + 1}` : base;
    infos.push({ name, dir, family: ckpt.config.causal ? 'autoregressive' : 'diffusion', params: countCheckpointParams(ckpt), training: status.text, midTraining: status.mid });
  }
  const families = new Set(infos.map((m) => m.family));
  const strategies = selectStrategies(o.strategies, families, quick);
  const gridOptions = quick ? { grid: o.grid ?? true, grids: QUICK.grid } : { grid: o.grid ?? true };
  // sweeps that apply to no model at all are errors (each model's plan below only sees its own)
  planSettings(strategies, o.sweeps ?? [], gridOptions);
  const plans = infos.map((info) => {
    const mine = strategies.filter((s) => s.family === info.family);
    const sweeps = (o.sweeps ?? []).filter((s) => {
      if (s.strategy !== undefined) return mine.some((d) => d.name === s.strategy);
      const gen = GEN_KEYS[s.key];
      return mine.some((d) => s.key in d.params) || (gen !== undefined && gen.family === info.family);
    });
    return planSettings(mine, sweeps, gridOptions);
  });

  const planned: PlannedModel[] = [];
  const t0 = performance.now();
  try {
    for (const [i, info] of infos.entries()) {
      log(`loading ${info.dir}`);
      const loadOptions: Parameters<typeof loadModel>[1] = {};
      if (o.threads !== undefined) loadOptions.threads = o.threads;
      if (o.cacheDir !== undefined) loadOptions.cacheDir = o.cacheDir;
      planned.push({ model: await loadModel(info.dir, loadOptions), info, settings: plans[i]! });
    }
    const loadSeconds = (performance.now() - t0) / 1000;

    const withOracle = o.oracle ?? true;
    const oracleRuns = withOracle ? planned.filter((p) => p.model.family === 'diffusion').length * instances.length : 0;
    const total = planned.reduce((s, p) => s + p.settings.length * instances.length, 0) + oracleRuns;
    let done = 0;
    const tick = (label: string) => o.onProgress?.(++done, total, label);
    const rows: ResultRow[] = [];
    const skipped: BenchSummary['skipped'] = [];
    const t1 = performance.now();

    for (const p of planned) {
      const { model, info } = p;
      const guard = guarded(model);
      const base = baseGen(o, model.family, model);
      for (const setting of p.settings) {
        const id = `${info.name}/${setting.label}`;
        const gen: GenerateOptions = { ...base };
        for (const [k, v] of Object.entries(setting.gen)) gen[GEN_KEYS[k]!.field] = v;
        const mine: ResultRow[] = [];
        let failed: string | null = null;
        let ar: ArRunner | null = null;
        try {
          for (const inst of instances) {
            if (failed) {
              tick(setting.label);
              continue;
            }
            try {
              let r: InstanceResult;
              if (model.family === 'autoregressive') {
                if (!ar) {
                  ar = new ArRunner(model, setting, gen.maxTokens!, seed);
                  await ar.run(inst); // warm-up, not recorded: lazy draft-model loading stays out of the times
                }
                r = await ar.run(inst);
              } else {
                guard.arm(forwardLimit(gen.genLength!));
                const t = performance.now();
                try {
                  const g = await generateText(guard.model, inst.prompt, { ...gen, strategy: setting.strategy, strategyOptions: setting.given, temperature: 0, seed: seedFrom(seed, inst.id) });
                  r = { text: g.text, nfe: g.nfe, tokens: g.usage.completionTokens + (g.finishReason === 'stop' ? 1 : 0), tokensPerForward: g.tokensPerForward, ms: g.ms };
                } catch (e) {
                  if (!(e instanceof ForwardLimit)) throw e;
                  r = { text: '', nfe: guard.used(), tokens: 0, tokensPerForward: 0, ms: performance.now() - t, stopped: e.message };
                }
              }
              const row: ResultRow = {
                kind: 'setting', model: info.name, family: model.family, strategy: setting.strategy, setting: id, label: setting.label,
                params: setting.params, gen: genRecord(gen), task: inst.task, group: groupOf(inst.task), id: inst.id, prompt: inst.prompt,
                output: r.text, score: scoreAnswer(inst, r.text), nfe: r.nfe, tokens: r.tokens, tokensPerForward: r.tokensPerForward, ms: r.ms,
                oracleNfe: null, familyOracleNfe: null, nfeOverOracle: null,
              };
              if (r.drafted !== undefined) row.drafted = r.drafted;
              if (r.accepted !== undefined) row.accepted = r.accepted;
              if (r.draftNfe !== undefined) row.draftNfe = r.draftNfe;
              if (r.stopped !== undefined) {
                row.stopped = r.stopped;
                row.score = 0;
              }
              mine.push(row);
            } catch (e) {
              if (!(e instanceof ParadecError)) throw e;
              failed = e.message;
              log(`skipping ${id}: ${e.message}`);
              skipped.push({ model: info.name, setting: id, reason: e.message });
            }
            tick(setting.label);
          }
        } finally {
          await (ar as ArRunner | null)?.dispose();
        }
        if (!failed) rows.push(...mine);
      }
      if (withOracle && model.family === 'diffusion') {
        for (const inst of instances) {
          const r = await oracleRow(guard, inst, base, seed);
          rows.push({
            kind: 'oracle-strategy', model: info.name, family: 'diffusion', strategy: 'oracle', setting: `${info.name}/oracle`, label: 'oracle',
            params: {}, gen: genRecord(base), task: inst.task, group: groupOf(inst.task), id: inst.id, prompt: inst.prompt,
            ...r, oracleNfe: null, familyOracleNfe: null, nfeOverOracle: null,
          });
          tick('oracle');
        }
      }
    }
    const decodeSeconds = (performance.now() - t1) / 1000;
    const models = planned.map((p) => p.info);
    for (const p of planned) await p.model.dispose();
    planned.length = 0;

    // engine speed last, with the models released
    let engine: BenchSummary['engine'] = null;
    let engineNote: string | null = null;
    const t2 = performance.now();
    if (o.engine === false) {
      engineNote = 'skipped (--no-engine)';
    } else {
      log('engine speed: a random ~100M-parameter LLaDA-layout model at 256 tokens vs ORT MatMul');
      const { measureEngineSpeed } = await import('./engine-speed.js');
      const opts: EngineSpeedOptions = typeof o.engine === 'object' ? { ...o.engine } : {};
      if (quick) {
        opts.runs ??= QUICK.engineRuns;
        opts.warmup ??= QUICK.engineWarmup;
      }
      if (o.threads !== undefined) opts.threads ??= o.threads;
      opts.log ??= log;
      engine = await measureEngineSpeed(opts);
    }
    const engineSeconds = (performance.now() - t2) / 1000;

    return assemble(rows, {
      command: o.command ?? 'paradec bench',
      startedAt,
      wallSeconds: (performance.now() - started) / 1000,
      phases: { loadSeconds, decodeSeconds, engineSeconds },
      seed,
      n,
      quick,
      tasks: [...tasks],
      machine: { cpus: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}` },
      models,
      skipped,
      engine,
      engineNote,
    });
  } finally {
    for (const p of planned) await p.model.dispose();
  }
}

export type SummaryMeta = Omit<BenchSummary, 'version' | 'settings' | 'frontier'>;

/**
 * From the decoded rows (settings and oracle-strategy runs) to the full result: ETE's bound and
 * the per-instance oracles attached, the family/model oracle rows added, every setting summarized
 * and the frontiers drawn.
 */
export function assemble(decoded: readonly ResultRow[], meta: SummaryMeta): BenchResult {
  const rows = decoded.map((r) => ({ ...r }));
  applyRoundsBound(rows);
  const all = [...rows, ...applyOracles(rows)];
  const settings = summarizeSettings(all);
  return { rows: all, summary: { version: 1, ...meta, settings, frontier: frontiers(settings) } };
}

/** Write results.jsonl, summary.json, report.md and the plots into `dir`; returns the file names. */
export function writeBenchOutputs(dir: string, result: BenchResult): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files.push(name);
  };
  write('results.jsonl', result.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  write('summary.json', JSON.stringify(result.summary, null, 2) + '\n');
  const plots = renderPlots(result.summary);
  write('report.md', renderReport(result.summary, Object.keys(plots)));
  for (const [name, svg] of Object.entries(plots)) write(name, svg);
  return files;
}
