/**
 * Draft-and-verify report for the autoregressive strategies on the task suite.
 *
 *   node --import tsx scripts/ar-report.ts [--n 4] [--seed 1] [--max-tokens 64] [--temperature 0]
 *        [--target tiny-ar] [--draft tiny-ar-draft] [--drafter tiny-dlm] [--threads N]
 *        [--spinning true|false] [--methods greedy,speculative,...] [--markdown]
 *
 * For every method it decodes the same suite instances (n per task, `generateSuite`) with the
 * same target, and prints: accuracy (`scoreAnswer`), tokens per target forward, mean accepted
 * draft tokens per verify, acceptance rate (accepted / drafted), target and draft forward
 * passes, the work (positions fed to the target per instance, and to the draft models apart;
 * `ArResult.work` / `draftWork`) and the target's work over plain decoding's, wall-clock time,
 * the speedup over plain decoding of the same model, and how many
 * outputs are identical to plain decoding (all of them, for the lossless methods at temperature
 * 0). Methods run interleaved per instance (after a warm-up that loads their models), so a
 * change in machine load hits every method alike. A per-task table shows where each method
 * helps (prompt lookup on copy-like tasks).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodePrompt, loadModel, resolveModelDir, type ParadecModel } from '../src/api.js';
import { runAutoregressive, type ArResult } from '../src/decode/autoregressive/loop.js';
import { returnValue } from '../src/decode/drain.js';
import { extraModelsFor } from '../src/extra-model-loader.js';
import type { AutoregressiveStrategy } from '../src/decode/autoregressive/types.js';
import { findAutoregressiveStrategy } from '../src/decode/registry.js';
import { resolveParams } from '../src/decode/params.js';
import type { CausalModel } from '../src/runtime/types.js';
import { generateSuite, scoreAnswer, TASK_NAMES, type TaskInstance } from '../src/tasks/suite.js';
import { Rng } from '../src/tasks/rng.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    'max-tokens': { type: 'string', default: '64' },
    temperature: { type: 'string', default: '0' },
    target: { type: 'string', default: 'tiny-ar' },
    draft: { type: 'string', default: 'tiny-ar-draft' },
    drafter: { type: 'string', default: 'tiny-dlm' },
    // the target's ORT threads; default: the library's (ORT's choice, one per physical core)
    threads: { type: 'string' },
    // ORT intra-op threads spin between parallel sections (ORT's default: on)
    spinning: { type: 'string' },
    methods: { type: 'string' },
    markdown: { type: 'boolean', default: false },
  },
  strict: true,
});

const n = Number(values.n);
const seed = Number(values.seed);
const maxTokens = Number(values['max-tokens']);
const temperature = Number(values.temperature);
const threads = values.threads === undefined ? undefined : Number(values.threads);

interface Method {
  label: string;
  name: string;
  params: Record<string, unknown>;
}

const ALL: Method[] = [
  { label: 'greedy', name: 'greedy', params: {} },
  { label: 'speculative', name: 'speculative', params: { draft: values.draft } },
  { label: 'speculative verify=block', name: 'speculative', params: { draft: values.draft, verify: 'block' } },
  { label: 'multipath', name: 'multipath', params: { draft: values.draft } },
  { label: 'pearl', name: 'pearl', params: { draft: values.draft } },
  { label: 'lookup', name: 'lookup', params: {} },
  { label: 'aded', name: 'aded', params: {} },
  { label: 'layerskip', name: 'layerskip', params: {} },
  { label: 'deer', name: 'deer', params: { drafter: values.drafter } },
  { label: 'cntp', name: 'cntp', params: {} },
  { label: 'adadec', name: 'adadec', params: {} },
  { label: 'anchored', name: 'anchored', params: { safe: values.draft } },
  { label: 'superposed', name: 'superposed', params: {} },
];
const wanted = values.methods ? values.methods.split(',').map((s) => s.trim()) : null;
/** a listed method, or an ad-hoc one written "name key=value ..." (e.g. 'aded datastore=none') */
function adHoc(spec: string): Method {
  const [name, ...sets] = spec.split(/\s+/);
  const params: Record<string, unknown> = { ...(ALL.find((m) => m.label === name)?.params ?? {}) };
  for (const kv of sets) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`--methods: '${kv}' in '${spec}' is not key=value`);
    params[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return { label: spec, name: name!, params };
}
const methods = wanted
  ? [
      ...new Map(
        wanted.flatMap((w) => {
          const exact = ALL.filter((m) => m.label === w);
          const byName = ALL.filter((m) => m.name === w);
          return exact.length > 0 ? exact : byName.length > 0 ? byName : [adHoc(w)];
        }).map((m) => [m.label, m] as const),
      ).values(),
    ]
  : ALL;
if (!methods.some((m) => m.name === 'greedy')) methods.unshift(ALL[0]!);

function card(name: string): string {
  try {
    const file = join(resolveModelDir(name), 'README.md');
    if (!existsSync(file)) return `${name}: no model card`;
    const text = readFileSync(file, 'utf8');
    const line = text.split('\n').find((l) => /trained|steps|accuracy/i.test(l));
    return `${name}: ${line?.trim().slice(0, 140) ?? 'model card present'}`;
  } catch (e) {
    return `${name}: ${(e as Error).message}`;
  }
}

interface Tally {
  instances: number;
  correct: number;
  tokens: number;
  nfe: number;
  verifies: number;
  drafted: number;
  accepted: number;
  draftNfe: number;
  work: number;
  draftWork: number;
  ms: number;
  same: number;
  error?: string;
}

const empty = (): Tally => ({ instances: 0, correct: 0, tokens: 0, nfe: 0, verifies: 0, drafted: 0, accepted: 0, draftNfe: 0, work: 0, draftWork: 0, ms: 0, same: 0 });

async function decode(model: CausalModel, ids: number[], strategy: AutoregressiveStrategy, eos: readonly number[], rngSeed: number): Promise<{ result: ArResult; ms: number }> {
  const start = performance.now();
  const it = runAutoregressive(model, ids, strategy, {
    maxTokens,
    sampling: { temperature, topK: 0, topP: 1 },
    rng: new Rng(rngSeed),
    eosTokenIds: eos,
    models: extraModelsFor(model),
    keepStrategy: true,
  });
  const result = await returnValue(it);
  return { result, ms: performance.now() - start };
}

function answer(model: ParadecModel, generated: readonly number[]): string {
  const end = generated.findIndex((t) => model.eosTokenIds.includes(t));
  return model.tokenizer.decode(end >= 0 ? generated.slice(0, end) : generated, { skipSpecialTokens: true });
}

async function main(): Promise<void> {
  console.log(`# paradec autoregressive report: target ${values.target}, n=${n} per task, seed ${seed}, max ${maxTokens} tokens, temperature ${temperature}`);
  for (const m of [values.target, values.draft, values.drafter]) console.log(`#   ${card(m)}`);
  const model = await loadModel(values.target, {
    ...(threads === undefined ? {} : { threads }),
    ...(values.spinning === undefined ? {} : { spinning: values.spinning !== 'false' }),
  });
  if (model.runtime.kind !== 'causal') throw new Error(`${values.target} is not an autoregressive model`);
  const runtime = model.runtime;
  const suite: TaskInstance[] = generateSuite({ seed, n });
  const prompts = suite.map((inst) => encodePrompt(model, inst.prompt));

  const strategies = new Map<string, AutoregressiveStrategy>();
  const totals = new Map<string, Tally>();
  const perTask = new Map<string, Map<string, Tally>>();
  for (const m of methods) {
    const def = findAutoregressiveStrategy(m.name);
    strategies.set(m.label, def.create(resolveParams(m.name, def.params, m.params)));
    totals.set(m.label, empty());
    perTask.set(m.label, new Map(TASK_NAMES.map((t) => [t, empty()])));
  }
  // warm-up: load every method's models once, outside the timings
  for (const m of methods) {
    try {
      await decode(runtime, prompts[0]!, strategies.get(m.label)!, model.eosTokenIds, 0);
    } catch (e) {
      totals.get(m.label)!.error = (e as Error).message;
      console.log(`# ${m.label}: ${(e as Error).message}`);
    }
  }
  for (let i = 0; i < suite.length; i++) {
    const inst = suite[i]!;
    let plain: number[] | null = null;
    for (const m of methods) {
      const tally = totals.get(m.label)!;
      if (tally.error) continue;
      const { result, ms } = await decode(runtime, prompts[i]!, strategies.get(m.label)!, model.eosTokenIds, 1000 + i);
      if (m.name === 'greedy') plain = result.generated;
      const ok = scoreAnswer(inst, answer(model, result.generated));
      for (const t of [tally, perTask.get(m.label)!.get(inst.task)!]) {
        t.instances += 1;
        t.correct += ok;
        t.tokens += result.generated.length;
        t.nfe += result.nfe;
        t.verifies += result.verifies ?? 0;
        t.drafted += result.drafted;
        t.accepted += result.accepted;
        t.draftNfe += result.draftNfe ?? 0;
        t.work += result.work;
        t.draftWork += result.draftWork;
        t.ms += ms;
        if (plain && result.generated.join(',') === plain.join(',')) t.same += 1;
      }
    }
  }
  for (const s of strategies.values()) await s.dispose?.();
  await model.dispose();

  const base = totals.get('greedy')!;
  const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const rows: string[][] = [['method', 'accuracy', 'tokens / target fwd', 'accepted / verify', 'acceptance', 'target fwds', 'draft fwds', 'work / instance', 'draft work / instance', 'work ÷ greedy', 'ms', 'speedup', 'same as greedy']];
  for (const m of methods) {
    const t = totals.get(m.label)!;
    if (t.error) {
      rows.push([m.label, `n/a: ${t.error.slice(0, 80)}`, ...rows[0]!.slice(2).map(() => '')]);
      continue;
    }
    rows.push([
      m.label,
      `${t.correct}/${t.instances}`,
      f(t.tokens / t.nfe),
      t.verifies > 0 ? f(t.accepted / t.verifies) : '–',
      t.drafted > 0 ? f(t.accepted / t.drafted) : '–',
      String(t.nfe),
      String(t.draftNfe),
      f(t.work / t.instances, 1),
      f(t.draftWork / t.instances, 1),
      f(t.work / base.work) + '×',
      f(t.ms, 0),
      f(base.ms / t.ms) + '×',
      `${t.same}/${t.instances}`,
    ]);
  }
  print(rows);
  console.log('');
  const taskRows: string[][] = [['task', ...methods.filter((m) => !totals.get(m.label)!.error && m.name !== 'greedy').map((m) => m.label)]];
  for (const task of TASK_NAMES) {
    const b = perTask.get('greedy')!.get(task)!;
    taskRows.push([
      task,
      ...methods
        .filter((m) => !totals.get(m.label)!.error && m.name !== 'greedy')
        .map((m) => {
          const t = perTask.get(m.label)!.get(task)!;
          return `${f(b.ms / t.ms)}× (${f(t.tokens / t.nfe, 1)} t/f)`;
        }),
    ]);
  }
  console.log('per task: wall-clock speedup over greedy (tokens per target forward)');
  print(taskRows);
}

function print(rows: string[][]): void {
  if (values.markdown) {
    console.log(`| ${rows[0]!.join(' | ')} |`);
    console.log(`|${rows[0]!.map(() => '---').join('|')}|`);
    for (const r of rows.slice(1)) console.log(`| ${r.join(' | ')} |`);
    return;
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) console.log(r.map((x, c) => x.padEnd(widths[c]!)).join('  '));
}

await main();
