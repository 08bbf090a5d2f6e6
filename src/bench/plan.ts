/**
 * What a bench run decodes, worked out before any model is compiled (so that every option error
 * comes first): the task instances, each model's family and training status, the strategies
 * matched to the families, and each model's settings (grids and sweeps); then, per loaded model,
 * the generation options of each setting.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_MODELS_DIR, defaultGenLength, resolveModelDir, type GenerateOptions, type ParadecModel } from '../api.js';
import { OptionError } from '../errors.js';
import { parseDtype, type Dtype } from '../runtime/dtype.js';
import { countCheckpointParams, loadCheckpoint } from '../model/checkpoint.js';
import { AUTOREGRESSIVE_STRATEGIES, DIFFUSION_STRATEGIES, type AnyStrategyDefinition } from '../decode/registry.js';
import { generateSuite, isTaskName, TASK_NAMES, ZERO_ENTROPY_TASKS, type TaskInstance, type TaskName } from '../tasks/suite.js';
import type { CompileProgress } from '../runtime/compile.js';
import type { EngineSpeedOptions } from './engine-speed.js';
import { GEN_KEYS, planSettings, QUICK, type Family, type Setting, type Sweep } from './settings.js';
import { trainingStatus } from './training-status.js';
import type { ModelInfo } from './types.js';

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
  /** diffusion: the end-of-text fill (default true; recorded in every diffusion row's `gen`) */
  eosFill?: boolean;
  maxTokens?: number;
  threads?: number;
  /**
   * the models' dtypes (`--dtype fp32,int8,int4`): each model runs once per dtype, named
   * `name@dtype` when there are several (default: the library's auto choice)
   */
  dtypes?: (Dtype | 'auto')[];
  /** check that each model fits in memory before loading it (default true; LoadOptions.checkMemory) */
  checkMemory?: boolean;
  cacheDir?: string;
  /** recorded in the summary */
  command?: string;
  onProgress?: (done: number, total: number, label: string) => void;
  /** a progress report for loading the model in this directory (the CLI's, for big models), or none */
  loadProgress?: (dir: string) => CompileProgress | undefined;
  log?: (line: string) => void;
}

export const DEFAULT_N = 20;

/** One model of the run: what the report says about it, and the settings it runs. */
export interface ModelPlan {
  info: ModelInfo;
  settings: Setting[];
}

export interface BenchPlan {
  seed: number;
  /** instances per task */
  n: number;
  quick: boolean;
  tasks: TaskName[];
  instances: TaskInstance[];
  models: ModelPlan[];
}

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

/** The run's plan from its options and the checkpoints' configs (nothing is compiled yet). */
export function planBench(o: BenchOptions): BenchPlan {
  const quick = o.quick ?? false;
  const seed = o.seed ?? 0;
  const n = o.n ?? (quick ? QUICK.n : DEFAULT_N);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`--n must be a positive integer (got ${n})`);
  if (!Number.isSafeInteger(seed)) throw new OptionError(`--seed must be an integer (got ${seed})`);
  const tasks = o.tasks ?? (quick ? QUICK.tasks : [...TASK_NAMES]);
  const instances = generateSuite({ seed, n, tasks });
  const modelNames = o.models && o.models.length ? o.models : defaultModels();
  const dtypes = [...new Set((o.dtypes ?? []).map((d) => parseDtype(String(d), '--dtype', true)))];
  // one model per dtype: the same checkpoint at each dtype asked for
  const infos = describeModels(modelNames.map((m) => resolveModelDir(m))).flatMap((info) =>
    dtypes.length === 0 ? [info] : dtypes.map((dtype) => ({ ...info, name: dtypes.length > 1 ? `${info.name}@${dtype}` : info.name, dtype })));

  const families = new Set(infos.map((m) => m.family));
  const strategies = selectStrategies(o.strategies, families, quick);
  const gridOptions = quick ? { grid: o.grid ?? true, grids: QUICK.grid } : { grid: o.grid ?? true };
  // sweeps that apply to no model at all are errors (each model's plan below only sees its own)
  planSettings(strategies, o.sweeps ?? [], gridOptions);
  const models = infos.map((info) => {
    const mine = strategies.filter((s) => s.family === info.family);
    const sweeps = (o.sweeps ?? []).filter((s) => {
      if (s.strategy !== undefined) return mine.some((d) => d.name === s.strategy);
      const gen = GEN_KEYS[s.key];
      return mine.some((d) => s.key in d.params) || (gen !== undefined && gen.family === info.family);
    });
    return { info, settings: planSettings(mine, sweeps, gridOptions) };
  });
  return { seed, n, quick, tasks: [...tasks], instances, models };
}

/** Each model's name (its directory's, numbered when two share one), family, size and training. */
function describeModels(dirs: readonly string[]): ModelInfo[] {
  const infos: ModelInfo[] = [];
  for (const dir of dirs) {
    const ckpt = loadCheckpoint(dir, { checkFinite: false });
    const status = trainingStatus(dir);
    const base = dir.split('/').filter(Boolean).pop() ?? dir;
    const name = infos.some((m) => m.name === base) ? `${base}#${infos.length + 1}` : base;
    infos.push({ name, dir, family: ckpt.config.causal ? 'autoregressive' : 'diffusion', params: countCheckpointParams(ckpt), training: status.text, midTraining: status.mid });
  }
  return infos;
}

function selectStrategies(names: readonly string[] | undefined, families: ReadonlySet<Family>, quick: boolean): AnyStrategyDefinition[] {
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
    if (def.name === 'oracle') continue; // the oracle runs on its own (runOracle-style), see oracle.ts
    if (!out.includes(def)) out.push(def);
  }
  return out;
}

/** A model's generation options before any sweep: the bench's options, else the model's canvas. */
export function baseGen(o: BenchOptions, model: ParadecModel): GenerateOptions {
  const canvas = defaultGenLength(model); // task answers + end-of-text fit the task models' 32 tokens
  if (model.family === 'diffusion') {
    // the fill is always written down: the report says which one each table uses
    const g: GenerateOptions = { genLength: o.genLength ?? canvas, eosFill: o.eosFill ?? true };
    if (o.steps !== undefined) g.steps = o.steps;
    if (o.blockLength !== undefined) g.blockLength = o.blockLength;
    return g;
  }
  return { maxTokens: o.maxTokens ?? canvas };
}

/** A setting's generation options: the base ones with the setting's swept keys on top. */
export function settingGen(base: GenerateOptions, setting: Setting): GenerateOptions {
  const gen: GenerateOptions = { ...base };
  for (const [k, v] of Object.entries(setting.gen)) {
    const field = GEN_KEYS[k]!.field;
    if (field === 'eosFill') gen.eosFill = v === true;
    else gen[field] = Number(v);
  }
  return gen;
}

/** The generation options of a row, under their sweep keys (gen_length, steps, eos_fill, …). */
export function genRecord(g: GenerateOptions): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const [key, { field }] of Object.entries(GEN_KEYS)) {
    const v = g[field];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
