/**
 * Which strategies run at which settings.
 *
 * Every strategy has a built-in grid (`DEFAULT_GRID`, the ParallelBench-style sweeps: k tokens
 * per step for the top-k rules, the threshold for the threshold rules, …; a strategy not listed
 * runs once at its paper defaults). `--sweep key=v1,v2,...` replaces the values of `key` in every
 * selected strategy that declares that parameter; `--sweep strategy.key=...` only in that strategy.
 * Several `--sweep`s combine as a cartesian product inside each strategy, over the keys that
 * strategy declares; a strategy that declares none of the swept keys keeps its grid. The
 * generation keys `gen_length`, `steps`, `block_length`, `eos_fill` (true/false; diffusion) and
 * `max_tokens` (autoregressive) apply to every strategy of that family. `--no-grid` drops the built-in grids
 * (each strategy at its defaults, except what is swept).
 */
import { OptionError } from '../errors.js';
import { resolveParams, type ParamValues } from '../decode/params.js';
import { AUTOREGRESSIVE_STRATEGIES, DIFFUSION_STRATEGIES, type AnyStrategyDefinition } from '../decode/registry.js';
import type { TaskName } from '../tasks/suite.js';

export type Family = 'diffusion' | 'autoregressive';
export type GridValue = number | string | boolean;
export type Grid = Record<string, readonly GridValue[]>;

/** The full run's grids, per strategy (keys a strategy does not declare are ignored). */
export const DEFAULT_GRID: Readonly<Record<string, Grid>> = {
  confidence: { k: [1, 2, 4, 8] },
  margin: { k: [1, 2, 4, 8] },
  entropy: { k: [1, 2, 4, 8] },
  random: { k: [1, 2, 4, 8] },
  'left-to-right': { k: [1, 2, 4, 8] },
  threshold: { tau: [0.5, 0.7, 0.9, 0.97] },
  factor: { f: [0.5, 1, 2] },
  credit: { tau: [0.7, 0.9] },
  ete: { tau: [0.7, 0.9] },
  dparallel: { threshold: [0.25, 0.5, 1] },
};

/** `--quick`: a handful of tasks and instances and a small strategy set (see docs/bench.md). */
export const QUICK = {
  tasks: ['copy', 'reverse', 'sudoku', 'shuffle', 'replace_random', 'latin_square'] as TaskName[],
  n: 5,
  diffusion: ['confidence', 'random', 'left-to-right', 'threshold', 'ete'],
  /** cheap per token on any model (those present in the registry; draft strategies need tiny-ar-draft) */
  autoregressive: ['greedy', 'speculative', 'lookup'],
  grid: {
    confidence: { k: [1, 2, 4] },
    random: { k: [2] },
    'left-to-right': { k: [2] },
    threshold: { tau: [0.7, 0.9] },
  } as Readonly<Record<string, Grid>>,
  engineRuns: 3,
  engineWarmup: 1,
};

/** The GenerateOptions fields a generation key sets: counts, and the end-of-text fill switch. */
export type GenCountField = 'genLength' | 'steps' | 'blockLength' | 'maxTokens';
export type GenField = GenCountField | 'eosFill';

/** Generation options that may be swept, by family, and the GenerateOptions field they set. */
export const GEN_KEYS: Readonly<Record<string, { family: Family; field: GenField }>> = {
  gen_length: { family: 'diffusion', field: 'genLength' },
  steps: { family: 'diffusion', field: 'steps' },
  block_length: { family: 'diffusion', field: 'blockLength' },
  eos_fill: { family: 'diffusion', field: 'eosFill' },
  max_tokens: { family: 'autoregressive', field: 'maxTokens' },
};

/** A swept generation value: `eos_fill` takes true/false, the others positive integers. */
function genValue(key: string, raw: GridValue): number | boolean {
  if (GEN_KEYS[key]?.field === 'eosFill') {
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new OptionError(`--sweep ${key}: '${String(raw)}' is not true or false`);
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new OptionError(`--sweep ${key}: '${String(raw)}' is not a positive integer`);
  return n;
}

export interface Sweep {
  /** only this strategy (from `strategy.key=...`) */
  strategy?: string;
  key: string;
  values: string[];
}

export interface Setting {
  strategy: string;
  family: Family;
  /** `threshold tau=0.9` */
  label: string;
  /** values given to the strategy (the swept/grid ones); defaults fill the rest */
  given: Record<string, GridValue>;
  /** the resolved parameters */
  params: ParamValues;
  /** generation options set by the sweep (snake_case keys) */
  gen: Record<string, number | boolean>;
}

/** Parse `key=v1,v2,...` or `strategy.key=v1,...`. */
export function parseSweep(raw: string): Sweep {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new OptionError(`--sweep expects key=v1,v2,... (got '${raw}')`);
  const lhs = raw.slice(0, eq).trim();
  const values = raw
    .slice(eq + 1)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) throw new OptionError(`--sweep ${lhs}: no values`);
  const dot = lhs.lastIndexOf('.');
  return dot > 0 ? { strategy: lhs.slice(0, dot), key: lhs.slice(dot + 1), values } : { key: lhs, values };
}

function product(grid: [string, readonly GridValue[]][]): Record<string, GridValue>[] {
  let out: Record<string, GridValue>[] = [{}];
  for (const [k, vs] of grid) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

export function findStrategy(name: string): AnyStrategyDefinition | undefined {
  return DIFFUSION_STRATEGIES.find((s) => s.name === name) ?? AUTOREGRESSIVE_STRATEGIES.find((s) => s.name === name);
}

/**
 * The settings of some strategies, in order: strategies as given, each one's grid in key order.
 * Throws OptionError for a swept key that no selected strategy (nor generation) has, a bad value,
 * or a `strategy.key` naming a strategy that is not selected.
 */
export function planSettings(strategies: readonly AnyStrategyDefinition[], sweeps: readonly Sweep[], options: { grid?: boolean; grids?: Readonly<Record<string, Grid>> } = {}): Setting[] {
  const grids = options.grid === false ? {} : (options.grids ?? DEFAULT_GRID);
  for (const s of sweeps) {
    if (s.strategy !== undefined && !strategies.some((d) => d.name === s.strategy)) {
      throw new OptionError(`--sweep ${s.strategy}.${s.key}: strategy '${s.strategy}' is not among the strategies run (${strategies.map((d) => d.name).join(', ')})`);
    }
    const target = strategies.filter((d) => s.strategy === undefined || d.name === s.strategy);
    const gen = GEN_KEYS[s.key];
    if (!target.some((d) => s.key in d.params || (gen && gen.family === d.family))) {
      throw new OptionError(`--sweep ${s.key}: no strategy run here has an option '${s.key}'${s.strategy ? '' : ' (and it is not a generation option: gen_length, steps, block_length, eos_fill, max_tokens)'}`);
    }
  }
  const out: Setting[] = [];
  for (const def of strategies) {
    const grid = new Map<string, readonly GridValue[]>();
    for (const [k, vs] of Object.entries(grids[def.name] ?? {})) if (k in def.params) grid.set(k, vs);
    const genGrid = new Map<string, readonly GridValue[]>();
    for (const s of sweeps) {
      if (s.strategy !== undefined && s.strategy !== def.name) continue;
      const gen = GEN_KEYS[s.key];
      if (s.key in def.params) grid.set(s.key, s.values);
      else if (gen && gen.family === def.family) genGrid.set(s.key, s.values);
    }
    const seen = new Set<string>();
    for (const combo of product([...grid, ...genGrid])) {
      const given: Record<string, GridValue> = {};
      const gen: Record<string, number | boolean> = {};
      for (const [k, v] of Object.entries(combo)) {
        if (genGrid.has(k)) {
          gen[k] = genValue(k, v);
        } else {
          given[k] = v;
        }
      }
      const params = resolveParams(def.name, def.params, given);
      const label = [def.name, ...Object.keys(given).map((k) => `${k}=${String(params[k])}`), ...Object.entries(gen).map(([k, v]) => `${k}=${v}`)].join(' ');
      if (seen.has(label)) continue;
      seen.add(label);
      out.push({ strategy: def.name, family: def.family, label, given, params, gen });
    }
  }
  return out;
}
