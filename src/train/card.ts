/**
 * Write a model card (README.md) for an exported model from its training run and a held-out
 * evaluation produced by eval-cli.ts (`--json`).
 *
 *   node --import tsx src/train/card.ts --model models/tiny-ar --run runs/tiny-ar --eval EVAL.json
 *        [--eval EVAL2.json …] --name tiny-ar [--command "exact training command"] [--notes FILE]
 *        [--agreement AGREEMENT.json]
 *
 * Several `--eval` files (fresh sets with different seeds) are shown side by side with their
 * pooled score: one 50-per-task set moves the suite score by about ±1.5 points.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countParams, type ModelShape } from './model.js';
import { ZERO_ENTROPY } from './suite.js';

interface EvalJson {
  model: string;
  objective: string;
  perTask: number;
  seed: number;
  measuredAt: string;
  suite?: number;
  tasks?: Record<string, number>;
  agreement?: { agree: number; total: number; perTask: Record<string, number> };
  agreementWith?: string;
  samples?: { task: string; prompt: string; prediction: string; score: number }[];
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

function argAll(argv: string[], name: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === `--${name}` && argv[i + 1] !== undefined) out.push(argv[i + 1]!);
  });
  return out;
}

function hms(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

const FLAG_ORDER = ['objective', 'out', 'initFrom', 'steps', 'batch', 'dModel', 'layers', 'heads', 'ffn', 'lr', 'warmup', 'minLrRatio', 'weightDecay', 'seed',
  'evalEvery', 'saveEvery', 'evalPerTask', 'logEvery', 'exportTo', 'maxMinutes', 'canvas', 'tasks', 'taskWeights', 'distillFrom', 'distillKeep', 'certaintyWeight', 'certaintyTemperature', 'resume'] as const;

function kebab(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Rebuild the command line of every start/resume recorded in DIR/log.jsonl. */
export function trainingHistory(run: string): { time: string; step: number; command: string }[] {
  const file = join(run, 'log.jsonl');
  if (!existsSync(file)) return [];
  const out: { time: string; step: number; command: string }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"type":"start"')) continue;
    const rec = JSON.parse(line) as { time: string; step: number; options: Record<string, unknown> };
    const o = rec.options;
    const parts = ['node --import tsx src/train/cli.ts'];
    for (const k of FLAG_ORDER) {
      const v = o[k];
      if (v === null || v === undefined || v === false || (k === 'maxMinutes' && v === 0)) continue;
      if ((k === 'certaintyWeight' || k === 'certaintyTemperature') && !o['certaintyWeight']) continue; // off
      if (v === true) parts.push(`--${kebab(k)}`);
      else parts.push(`--${kebab(k)} ${Array.isArray(v) ? v.join(',') : String(v)}`);
    }
    out.push({ time: rec.time, step: rec.step, command: parts.join(' ') });
  }
  return out;
}

function initFromOf(options: Record<string, unknown>): string | null {
  return typeof options['initFrom'] === 'string' ? options['initFrom'] : null;
}

/** The run and step that exported the checkpoint `dir` (its generation_config.json), if it is one. */
function exportOrigin(dir: string): { run: string; step: number } | null {
  const file = join(dir, 'generation_config.json');
  if (!existsSync(file)) return null;
  const meta = (JSON.parse(readFileSync(file, 'utf8')) as { paradec?: { run?: unknown; trainedSteps?: unknown } }).paradec;
  return typeof meta?.run === 'string' && typeof meta.trainedSteps === 'number' ? { run: meta.run, step: meta.trainedSteps } : null;
}

export function writeCard(argv: string[]): string {
  const model = arg(argv, 'model')!;
  const run = arg(argv, 'run')!;
  const name = arg(argv, 'name') ?? model.split('/').pop()!;
  const state = JSON.parse(readFileSync(join(run, 'state.json'), 'utf8')) as { step: number; shape: ModelShape; options: Record<string, unknown>; extra: { seconds?: number } };
  const evals = argAll(argv, 'eval').map((f) => JSON.parse(readFileSync(f, 'utf8')) as EvalJson).filter((e) => e.tasks);
  const ag = arg(argv, 'agreement') ? (JSON.parse(readFileSync(arg(argv, 'agreement')!, 'utf8')) as EvalJson) : null;
  const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  const o = state.options;
  const s = state.shape;
  const lines: string[] = [];
  lines.push(`# ${name}`, '');
  lines.push(arg(argv, 'summary') ?? '', '');
  lines.push('## Model', '');
  lines.push(`| | |`, `|---|---|`);
  lines.push(`| layout | \`${String(cfg['model_type'])}\` (${o['objective'] === 'diffusion' ? 'masked diffusion, bidirectional attention' : 'causal LM'}) |`);
  lines.push(`| parameters | ${countParams(s).toLocaleString('en-US')} (untied embedding and head) |`);
  lines.push(`| shape | d_model ${s.dModel}, ${s.layers} layers, ${s.heads} heads (head dim ${s.dModel / s.heads}), SwiGLU ${s.ffn}, vocab ${s.vocabSize} |`);
  lines.push(`| RoPE / RMSNorm | theta ${s.ropeTheta}, rotate-half / eps ${s.rmsNormEps} |`);
  lines.push(`| tokenizer | models/tokenizer (copied here) |`);
  lines.push(`| ${o['objective'] === 'diffusion' ? 'answer canvas' : 'max new tokens'} | ${String(o['canvas'])} |`, '');
  lines.push('## Training', '');
  lines.push(`Trained with paradec's TensorFlow.js trainer (wasm backend, one CPU thread, shared machine) on fresh task-suite instances every step.`, '');
  const cmd = arg(argv, 'command');
  if (cmd) lines.push('```', cmd, '```', '');
  const history = trainingHistory(run);
  if (history.length) {
    lines.push('Training history (every start or resume of the run, from its log.jsonl; each line is the exact command):', '');
    lines.push('```');
    for (const h of history) lines.push(`# ${h.time}: from step ${h.step}`, h.command);
    lines.push('```', '');
  }
  // a run initialised from another run's state: that run's commands reproduce the initialisation,
  // and so on down the chain (a run initialised from one that was itself initialised)
  const seen = new Set<string>();
  for (let init = initFromOf(o); init && !seen.has(init); ) {
    seen.add(init);
    // an exported checkpoint names the run and step that wrote it (generation_config.json)
    const exported = exportOrigin(init);
    const runDir = exported && !existsSync(join(init, 'log.jsonl')) ? exported.run : init;
    const initHistory = trainingHistory(runDir);
    if (!initHistory.length) break;
    const initState = existsSync(join(runDir, 'state.json')) ? (JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as { step: number; options?: Record<string, unknown> }) : null;
    lines.push(
      runDir === init
        ? `The initialisation \`${init}\` is the state${initState ? ` at step ${initState.step}` : ''} of this earlier run (resumes are exact, so these commands rebuild it):`
        : `The initialisation \`${init}\` is the checkpoint that run \`${runDir}\` exported at step ${exported!.step} (it exports at every evaluation; these commands rebuild it):`,
      '',
      '```',
    );
    for (const h of initHistory) lines.push(`# ${h.time}: from step ${h.step}`, h.command);
    lines.push('```', '');
    seen.add(runDir);
    init = initState?.options ? initFromOf(initState.options) : null;
  }
  lines.push(`| | |`, `|---|---|`);
  lines.push(`| objective | ${o['objective'] === 'diffusion' ? "LLaDA SFT masked diffusion (t ~ U(1e-3, 1) per row, answer canvas masked with prob. t, prompt never masked, CE/t normalised by canvas length)" : 'next-token cross-entropy on answer tokens + end-of-text'}${o['certaintyWeight'] ? ` + ${String(o['certaintyWeight'])} × entropy of softmax(logits / ${String(o['certaintyTemperature'])}) on the masked positions predicted right (dParallel certainty forcing)` : ''} |`);
  if (o['distillFrom']) lines.push(`| answers | greedy answers of ${String(o['distillFrom']).split(',').map((d) => `\`${d}\``).join(', then ')}${o['distillKeep'] === 'valid' ? ' — the first the task scorer accepts, else the reference' : ''} |`);
  lines.push(`| steps | ${state.step} of ${String(o['steps'])} (batch ${String(o['batch'])}) |`);
  lines.push(`| optimizer | AdamW lr ${String(o['lr'])}, warmup ${String(o['warmup'])}, cosine to ×${String(o['minLrRatio'])}, wd ${String(o['weightDecay'])}, clip ${String(o['clip'])} |`);
  lines.push(`| seed | ${String(o['seed'])}${o['initFrom'] ? `, initialised from ${String(o['initFrom'])}` : ''} |`);
  lines.push(`| wall time | ${hms(state.extra.seconds ?? 0)} (training + periodic evals) |`, '');
  if (evals.length) {
    const ev = evals[0]!;
    const seeds = evals.map((e) => e.seed);
    lines.push('## Held-out evaluation (measured)', '');
    lines.push(`Measured ${evals.map((e) => e.measuredAt).join(', ')} by \`src/train/eval-cli.ts\` (the trainer's tfjs greedy decoder${ev.objective === 'diffusion' ? ': one token per step, the most confident masked position first' : ''}) on ${ev.perTask} fresh instances per task${evals.length > 1 ? ' in each of ' + evals.length + ' sets' : ''} (seed ${seeds.join(', ')}; never used in training), scored with the suite's scorers.${evals.length > 1 ? ' The pooled column is the mean over all sets.' : ''}`, '');
    const header = evals.length > 1 ? ['task', ...seeds.map((x) => `seed ${x}`), 'pooled'] : ['task', 'score'];
    lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
    const pooled = (get: (e: EvalJson) => number): number => evals.reduce((a, e) => a + get(e), 0) / evals.length;
    const row = (label: string, get: (e: EvalJson) => number, bold = false): string => {
      const cells = evals.map((e) => get(e).toFixed(1));
      if (evals.length > 1) cells.push(pooled(get).toFixed(1));
      return `| ${label} | ${cells.map((c) => (bold ? `**${c}**` : c)).join(' | ')} |`;
    };
    const tasks = Object.keys(ev.tasks!);
    for (const t of tasks) lines.push(row(`${t}${ZERO_ENTROPY.includes(t) ? ' (zero-entropy)' : ''}`, (e) => e.tasks![t] ?? NaN));
    lines.push(row('**suite**', (e) => e.suite!, true));
    const ze = tasks.filter((t) => ZERO_ENTROPY.includes(t));
    if (ze.length) lines.push(row('zero-entropy tasks (mean)', (e) => ze.reduce((a, t) => a + (e.tasks![t] ?? NaN), 0) / ze.length));
    lines.push('');
  }
  if (ag?.agreement) {
    lines.push('## Draft agreement (measured)', '');
    lines.push(`Greedy next-token agreement with \`${ag.agreementWith}\` along its greedy answers: **${ag.agreement.agree.toFixed(1)}%** over ${ag.agreement.total} answer positions (${ag.perTask} prompts per task, seed ${ag.seed}, measured ${ag.measuredAt}).`, '');
    lines.push('| task | agreement % |', '|---|---|');
    for (const [t, v] of Object.entries(ag.agreement.perTask)) lines.push(`| ${t} | ${v.toFixed(1)} |`);
    lines.push('');
  }
  const notes = arg(argv, 'notes');
  if (notes && existsSync(notes)) lines.push(readFileSync(notes, 'utf8').trim(), '');
  const text = lines.join('\n');
  writeFileSync(join(model, 'README.md'), text);
  return text;
}

if (process.argv[1]?.endsWith('card.ts')) writeCard(process.argv.slice(2));
