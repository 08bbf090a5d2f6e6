/**
 * The data of a bench run: one `ResultRow` per instance and setting (results.jsonl), and the
 * `BenchSummary` aggregated from them (summary.json), from which report.md and the plots are drawn.
 */
import type { Dtype } from '../runtime/dtype.js';
import type { ScheduleReport } from '../decode/diffusion/row-state.js';
import type { TaskName } from '../tasks/suite.js';
import type { EngineSpeedResult } from './engine-speed.js';

/** Zero-entropy tasks (C(Y|X) = 0: one right answer) vs tasks whose output tokens depend on each other. */
export type TaskGroup = 'zero-entropy' | 'dependent';

/**
 * - `setting`: a strategy at one parameter setting (a real decoder);
 * - `oracle-strategy`: the `oracle` strategy (Learn2PD's "extremely greedy parallel" oracle: commits a
 *   position as soon as its prediction equals the one-token-per-step answer);
 * - `family-oracle`: per instance, the best setting of one strategy (fewest forward passes among
 *   the settings that solved it; when none did, the fewest forward passes of any);
 * - `model-oracle`: the same over every setting of every strategy and the oracle strategy of a model.
 * The last three are measurements, not decoders: they are marked in plots and kept off the frontier.
 */
export type RowKind = 'setting' | 'oracle-strategy' | 'family-oracle' | 'model-oracle';

export type ParamValue = number | boolean | string | null;

/** Which model, strategy and setting a row or a summary belongs to. */
export interface SettingIdentity {
  kind: RowKind;
  /** model name (its directory's last component) */
  model: string;
  family: 'diffusion' | 'autoregressive';
  strategy: string;
  /** unique id of the setting: `<model>/<label>` */
  setting: string;
  /** strategy plus the swept values, e.g. `threshold tau=0.9` */
  label: string;
  /** the strategy's resolved parameters (defaults filled in) */
  params: Record<string, ParamValue>;
  /**
   * generation options that were set (gen_length, steps, block_length; max_tokens), and for
   * diffusion always eos_fill (the end-of-text fill, on by default)
   */
  gen: Record<string, number | boolean>;
}

export interface ResultRow extends SettingIdentity {
  task: TaskName;
  group: TaskGroup;
  /** instance id `<task>-<seed>-<i>` */
  id: string;
  prompt: string;
  output: string;
  /** 0 or 1 (the suite's scorer) */
  score: number;
  /** sequential forward passes of the model (autoregressive: target passes; a draft model's are not counted) */
  nfe: number;
  /**
   * positions the model computed (GenerationResult.work): diffusion, the canvas per forward and
   * every candidate canvas; autoregressive, every position fed to the target. Stopped rows: the
   * positions of the forwards they ran before the cap.
   */
  work: number;
  /** autoregressive: positions fed to the draft models (GenerationResult.draftWork) */
  draftWork?: number;
  /** the one-token-per-step baseline's work on this instance (see `applyBaseline`; null: not run) */
  baselineWork: number | null;
  /** work / baselineWork */
  workOverBaseline: number | null;
  /** oracle rows: the work of the one-token-per-step reference run the oracle is built on */
  referenceWork?: number;
  /** diffusion: which schedule set each step's count (GenerationResult.schedule) */
  schedule?: ScheduleReport;
  /** generated tokens, end-of-text included when it was produced */
  tokens: number;
  tokensPerForward: number;
  /** wall time of this instance's decoding */
  ms: number;
  /** autoregressive draft-and-verify: draft tokens proposed / accepted, and the draft model's forward passes */
  drafted?: number;
  accepted?: number;
  draftNfe?: number;
  /** fewest forward passes at which any run on this model solved the instance (null: none did) */
  oracleNfe: number | null;
  /** fewest forward passes at which some setting of this strategy solved it (null: none did) */
  familyOracleNfe: number | null;
  /** nfe / oracleNfe */
  nfeOverOracle: number | null;
  /** diffusion: −ln p (nats) of the one-token-per-step answer, and the tokens it decided (oracle rows) */
  nll?: number;
  nllTokens?: number;
  /** ETE's bits-to-rounds lower bound for a threshold decoder at this row's tau (or 0.9 for oracle rows) */
  roundsBound?: number;
  /** set when decoding was stopped at the forward-pass cap (no progress); the row scores 0 */
  stopped?: string;
  /** pseudo-rows (family/model oracle): the setting chosen for this instance */
  from?: string;
}

/** Score over all instances; NFE, tokens and times over those that finished (not stopped at the cap). */
export interface GroupMetrics {
  /** instances in the group */
  instances: number;
  /** tasks in the group */
  tasks: number;
  /** the suite's aggregation: mean over tasks of (mean score × 100) */
  score: number | null;
  solved: number;
  meanNfe: number;
  /** mean positions computed by the model (work), and by the draft models (0 without one) */
  meanWork: number;
  meanDraftWork: number;
  /**
   * Σ work / Σ the one-token-per-step baseline's work, over the finished instances that have one
   * (> 1: the setting computed more positions than the baseline)
   */
  workOverBaseline: number | null;
  /** Σ tokens / Σ forward passes */
  tokensPerForward: number;
  /** Σ tokens / Σ wall seconds */
  tokensPerSecond: number;
  meanTokens: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  /** Σ nfe / Σ oracle nfe over the group's finished instances that some run of the model solved */
  nfeOverOracle: number | null;
}

export interface SettingSummary extends SettingIdentity {
  overall: GroupMetrics;
  zeroEntropy: GroupMetrics | null;
  dependent: GroupMetrics | null;
  perTask: Partial<Record<TaskName, GroupMetrics>>;
  /** Σ nfe / Σ oracle nfe over the instances some run on this model solved */
  nfeOverOracle: number | null;
  /** Σ nfe / Σ family-oracle nfe over the instances some setting of this strategy solved */
  nfeOverFamilyOracle: number | null;
  /** instances stopped at the forward-pass cap (no progress) */
  stopped: number;
  /** diffusion settings with a `tau` (and oracle rows at τ = 0.9): ETE's bound next to the NFE */
  roundsBound: { tau: number; meanBound: number; meanNfe: number; meanNll: number; instances: number } | null;
  /**
   * diffusion: which schedule ran, over the finished instances — how many ran each kind
   * (ScheduleReport.kind), and of all their decision steps how many committed exactly one token
   */
  schedule: { steps: number; strategy: number; mixed: number; decisionSteps: number; oneTokenSteps: number; eosFill: boolean } | null;
}

export interface FrontierSet {
  /** settings on the frontier of score vs tokens per forward (higher is better), by tokens per forward */
  tokensPerForward: string[];
  /** settings on the frontier of score vs mean wall time per instance (lower is better), by time */
  wallTime: string[];
  /**
   * settings on the frontier of score vs mean work per instance (lower is better), per model (a
   * position of one model is not a position of another: an autoregressive model with its KV cache
   * computes far fewer than a diffusion model's canvas), by model then work
   */
  work: string[];
}

export interface ModelInfo {
  name: string;
  dir: string;
  family: 'diffusion' | 'autoregressive';
  params: number;
  /**
   * the weights' data type: the one asked for (`--dtype`; 'auto' or absent: the library's
   * default), replaced by the one loaded once the model is (absent for an ONNX export)
   */
  dtype?: Dtype | 'auto';
  /** e.g. "trained 1200 of 3000 steps (mid-training)", from the model card / generation_config.json */
  training: string | null;
  midTraining: boolean;
}

export interface BenchSummary {
  version: 1;
  command: string;
  startedAt: string;
  wallSeconds: number;
  phases: { loadSeconds: number; decodeSeconds: number; engineSeconds: number };
  seed: number;
  n: number;
  quick: boolean;
  tasks: TaskName[];
  machine: { cpus: number; node: string; platform: string };
  models: ModelInfo[];
  settings: SettingSummary[];
  /** per group (overall / zero-entropy / dependent) */
  frontier: { overall: FrontierSet; zeroEntropy: FrontierSet; dependent: FrontierSet };
  skipped: { model: string; setting: string; reason: string }[];
  engine: EngineSpeedResult | null;
  /** why the engine section is missing, when it is */
  engineNote: string | null;
}

/** What `runBench` returns: every row (decoded and oracle pseudo-rows) and their summary. */
export interface BenchResult {
  rows: ResultRow[];
  summary: BenchSummary;
}

/** The summary's fields that describe the run rather than aggregate its rows. */
export type SummaryMeta = Omit<BenchSummary, 'version' | 'settings' | 'frontier'>;
