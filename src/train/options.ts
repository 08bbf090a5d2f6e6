/**
 * Training options and the command-line flag parser (`paradec train` uses the same flags).
 */
import { OptionError } from '../errors.js';
import type { Objective } from './objective.js';

export interface TrainOptions {
  objective: Objective;
  /** run directory: state, log.jsonl, eval results */
  out: string;
  steps: number;
  batch: number;
  dModel: number;
  layers: number;
  heads: number;
  ffn: number;
  lr: number;
  /** final lr = lr × minLrRatio (cosine decay) */
  minLrRatio: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  clip: number;
  seed: number;
  evalEvery: number;
  saveEvery: number;
  /** held-out instances per task for the periodic evaluation */
  evalPerTask: number;
  evalSeed: number;
  resume: boolean;
  /** initial weights: a run directory or an exported checkpoint of the same shape */
  initFrom: string | null;
  /** export an HF checkpoint here after every evaluation and at the end */
  exportTo: string | null;
  tokenizer: string;
  /** answer canvas (diffusion) / max new tokens (causal) */
  canvas: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
  /** train on these tasks only (default: all) */
  tasks: string[] | null;
  /** relative sampling weights, one per task */
  taskWeights: number[] | null;
  /** train on these checkpoints' greedy answers instead of the references (sequence-level KD); comma-separated, tried in order */
  distillFrom: string | null;
  /** 'valid': a teacher answer the task's scorer rejects is replaced by the reference (null: keep all) */
  distillKeep: 'valid' | null;
  /** diffusion: weight of dParallel's certainty-forcing entropy term (0 = off; dParallel uses 2) */
  certaintyWeight: number;
  /** temperature of that entropy (dParallel: 0.5) */
  certaintyTemperature: number;
  /** progress line every N steps when stderr is not a terminal */
  logEvery: number;
  /** stop cleanly (save, eval, export) after this many minutes of this process; 0 = no limit */
  maxMinutes: number;
}

export const DEFAULT_OPTIONS: TrainOptions = {
  objective: 'causal',
  out: 'runs/train',
  steps: 1000,
  batch: 64,
  dModel: 128,
  layers: 4,
  heads: 4,
  ffn: 384,
  lr: 3e-3,
  minLrRatio: 0.1,
  warmup: 100,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.99,
  clip: 1,
  seed: 1,
  evalEvery: 250,
  saveEvery: 100,
  evalPerTask: 8,
  evalSeed: 9001,
  resume: false,
  initFrom: null,
  exportTo: null,
  tokenizer: 'models/tokenizer',
  canvas: 32,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  maxPositions: 256,
  tasks: null,
  taskWeights: null,
  distillFrom: null,
  distillKeep: null,
  certaintyWeight: 0,
  certaintyTemperature: 0.5,
  logEvery: 25,
  maxMinutes: 0,
};

export const TRAIN_USAGE = `usage: train --objective diffusion|causal --out DIR [options]
  --steps N            total optimizer steps (${DEFAULT_OPTIONS.steps})
  --batch B            sequences per step (${DEFAULT_OPTIONS.batch})
  --d-model D --layers L --heads H --ffn F   model shape (${DEFAULT_OPTIONS.dModel}/${DEFAULT_OPTIONS.layers}/${DEFAULT_OPTIONS.heads}/${DEFAULT_OPTIONS.ffn})
  --lr X               peak learning rate (${DEFAULT_OPTIONS.lr}); --warmup N (${DEFAULT_OPTIONS.warmup}); --min-lr-ratio R (${DEFAULT_OPTIONS.minLrRatio})
  --weight-decay X (${DEFAULT_OPTIONS.weightDecay})  --beta1 X  --beta2 X  --clip X
  --seed S             init, data and masking seed (${DEFAULT_OPTIONS.seed})
  --eval-every N       held-out greedy evaluation every N steps (${DEFAULT_OPTIONS.evalEvery}); --eval-per-task N (${DEFAULT_OPTIONS.evalPerTask}); --eval-seed S
  --save-every N       training checkpoint every N steps (${DEFAULT_OPTIONS.saveEvery})
  --resume             continue from DIR/state.* exactly
  --init-from DIR      initial weights from a run dir or exported checkpoint (same shape)
  --export-to DIR      write an HF checkpoint (llada / llama layout) after each eval and at the end
  --tokenizer DIR      (${DEFAULT_OPTIONS.tokenizer})
  --canvas N           answer canvas / max new tokens (${DEFAULT_OPTIONS.canvas})
  --tasks a,b,c        train on a subset; --task-weights 1,2,1 sampling weights
  --distill-from A[,B] answers are these checkpoints' greedy outputs (sequence-level KD): causal
                       ones greedy, diffusion ones left to right one token per step
  --distill-keep valid the first teacher answer the task's scorer accepts (none: the reference)
  --certainty-weight W diffusion: + W × entropy at --certainty-temperature T (0.5) on correctly
                       predicted masks (dParallel's certainty forcing; the paper uses W = 2)
  --rope-theta X  --max-positions N  --log-every N  --max-minutes M`;

const NUMERIC: Partial<Record<keyof TrainOptions, 'int' | 'float'>> = {
  steps: 'int', batch: 'int', dModel: 'int', layers: 'int', heads: 'int', ffn: 'int',
  lr: 'float', minLrRatio: 'float', warmup: 'int', weightDecay: 'float', beta1: 'float', beta2: 'float', clip: 'float',
  seed: 'int', evalEvery: 'int', saveEvery: 'int', evalPerTask: 'int', evalSeed: 'int', canvas: 'int',
  ropeTheta: 'float', rmsNormEps: 'float', maxPositions: 'int', logEvery: 'int', maxMinutes: 'float',
  certaintyWeight: 'float', certaintyTemperature: 'float',
};

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parse `--flag value` / `--flag=value` arguments into full options (defaults filled in). */
export function parseTrainArgs(argv: readonly string[]): TrainOptions {
  const o: TrainOptions = { ...DEFAULT_OPTIONS };
  const rec = o as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new OptionError(`unexpected argument ${JSON.stringify(arg)}\n${TRAIN_USAGE}`);
    let [flag, value] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined];
    const key = camel(flag) as keyof TrainOptions;
    if (!(key in DEFAULT_OPTIONS)) throw new OptionError(`unknown flag --${flag}\n${TRAIN_USAGE}`);
    if (key === 'resume') {
      o.resume = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new OptionError(`--${flag} needs a value`);
    }
    const kind = NUMERIC[key];
    if (kind) {
      const n = Number(value);
      if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new OptionError(`--${flag}: ${JSON.stringify(value)} is not ${kind === 'int' ? 'an integer' : 'a number'}`);
      rec[key] = n;
    } else if (key === 'objective') {
      if (value !== 'diffusion' && value !== 'causal') throw new OptionError(`--objective must be diffusion or causal, got ${JSON.stringify(value)}`);
      o.objective = value;
    } else if (key === 'tasks') o.tasks = value.split(',').filter(Boolean);
    else if (key === 'taskWeights') o.taskWeights = value.split(',').map(Number);
    else if (key === 'distillKeep') {
      if (value !== 'valid' && value !== 'all') throw new OptionError(`--distill-keep must be valid or all, got ${JSON.stringify(value)}`);
      o.distillKeep = value === 'valid' ? 'valid' : null;
    }
    else rec[key] = value;
  }
  validate(o);
  return o;
}

export function validate(o: TrainOptions): void {
  for (const k of ['steps', 'batch', 'dModel', 'layers', 'heads', 'ffn', 'canvas', 'evalEvery', 'saveEvery'] as const) {
    if (!(o[k] > 0)) throw new OptionError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be positive`);
  }
  if (o.dModel % o.heads !== 0 || (o.dModel / o.heads) % 2 !== 0) throw new OptionError(`--d-model ${o.dModel} must split into ${o.heads} heads of even size`);
  if (o.taskWeights && o.tasks && o.taskWeights.length !== o.tasks.length) throw new OptionError('--task-weights needs one weight per task in --tasks');
  if (!(o.certaintyWeight >= 0)) throw new OptionError('--certainty-weight must be zero or positive');
  if (!(o.certaintyTemperature > 0)) throw new OptionError('--certainty-temperature must be positive');
  if (o.certaintyWeight > 0 && o.objective !== 'diffusion') throw new OptionError('--certainty-weight applies to the diffusion objective only');
  if (o.distillKeep !== null && o.distillFrom === null) throw new OptionError('--distill-keep filters a teacher\'s answers; it needs --distill-from');
}
