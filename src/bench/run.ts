/**
 * `paradec bench`: strategies × settings × the task suite, on one or more models (diffusion and
 * autoregressive together), with the per-instance oracle, ETE's rounds bound, the Pareto frontiers
 * and the engine-speed section. `runBench` returns the rows and the summary; `writeBenchOutputs`
 * (outputs.ts) writes results.jsonl, summary.json, report.md and the SVG plots.
 *
 * The run, top to bottom: plan (plan.ts: instances, models, settings; every option error before
 * any compiling), load the models, decode every setting's instances through the public API
 * (decoders.ts) and the oracle strategy (oracle.ts), time the engine, assemble the summary.
 *
 * Reproducibility: the instances come from `generateSuite({seed, n, tasks})`; every generation is
 * seeded with `seedFrom(seed, instance id)` (the `random` strategy and sampling draw from it) and
 * decodes one instance at a time, so the same seed gives the same outputs, scores and forward
 * passes; only times differ.
 */
import { availableParallelism } from 'node:os';
import { loadModel, type GenerateOptions, type LoadOptions, type ParadecModel } from '../api.js';
import { ParadecError } from '../errors.js';
import { scoreAnswer, type TaskInstance } from '../tasks/suite.js';
import { autoregressiveDecoder, diffusionDecoder, type InstanceResult, type SettingDecoder } from './decoders.js';
import type { EngineSpeedOptions } from './engine-speed.js';
import { guarded } from './forward-limit.js';
import { oracleRow } from './oracle.js';
import { baseGen, genRecord, planBench, settingGen, type BenchOptions, type ModelPlan } from './plan.js';
import { QUICK, type Setting } from './settings.js';
import { applyBaseline, applyOracles, applyRoundsBound, frontiers, groupOf, summarizeSettings } from './stats.js';
import type { BenchResult, BenchSummary, ModelInfo, ResultRow, SummaryMeta } from './types.js';

// the public `paradec/bench` entry point: what a caller of runBench passes and gets back
export type { BenchOptions } from './plan.js';
export type { BenchResult, BenchSummary, ResultRow } from './types.js';

export async function runBench(o: BenchOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const log = o.log ?? (() => {});
  const plan = planBench(o);
  const { seed, instances } = plan;

  const loaded: { model: ParadecModel; plan: ModelPlan }[] = [];
  const t0 = performance.now();
  try {
    for (const p of plan.models) {
      log(`loading ${p.info.dir}`);
      const loadOptions: LoadOptions = {};
      if (o.threads !== undefined) loadOptions.threads = o.threads;
      if (o.cacheDir !== undefined) loadOptions.cacheDir = o.cacheDir;
      const onProgress = o.loadProgress?.(p.info.dir);
      if (onProgress) loadOptions.onProgress = onProgress;
      if (p.info.dtype !== undefined) loadOptions.dtype = p.info.dtype;
      if (o.checkMemory !== undefined) loadOptions.checkMemory = o.checkMemory;
      const model = await loadModel(p.info.dir, loadOptions);
      if (model.dtype !== null) p.info.dtype = model.dtype; // what auto chose
      loaded.push({ model, plan: p });
    }
    const loadSeconds = (performance.now() - t0) / 1000;

    const withOracle = o.oracle ?? true;
    const oracleRuns = withOracle ? loaded.filter((l) => l.model.family === 'diffusion').length * instances.length : 0;
    const total = loaded.reduce((s, l) => s + l.plan.settings.length * instances.length, 0) + oracleRuns;
    let done = 0;
    const tick = (label: string) => o.onProgress?.(++done, total, label);
    const rows: ResultRow[] = [];
    const skipped: BenchSummary['skipped'] = [];
    const t1 = performance.now();

    for (const { model, plan: { info, settings } } of loaded) {
      const guard = guarded(model);
      const base = baseGen(o, model);
      for (const setting of settings) {
        const id = `${info.name}/${setting.label}`;
        const gen = settingGen(base, setting);
        const decoder: SettingDecoder = model.family === 'autoregressive' ? autoregressiveDecoder(model, setting, gen, seed) : diffusionDecoder(guard, setting, gen, seed);
        const mine: ResultRow[] = [];
        let failed: string | null = null;
        try {
          for (const inst of instances) {
            if (failed) {
              tick(setting.label);
              continue;
            }
            try {
              mine.push(settingRow(info, setting, gen, inst, await decoder.decode(inst)));
            } catch (e) {
              // a setting the model cannot run (e.g. a draft model it has none of) is skipped whole
              if (!(e instanceof ParadecError)) throw e;
              failed = e.message;
              log(`skipping ${id}: ${e.message}`);
              skipped.push({ model: info.name, setting: id, reason: e.message });
            }
            tick(setting.label);
          }
        } finally {
          await decoder.dispose();
        }
        if (!failed) rows.push(...mine);
      }
      if (withOracle && model.family === 'diffusion') {
        for (const inst of instances) {
          const r = await oracleRow(guard, inst, base, seed);
          rows.push({
            kind: 'oracle-strategy', model: info.name, family: 'diffusion', strategy: 'oracle', setting: `${info.name}/oracle`, label: 'oracle',
            params: {}, gen: genRecord(base), task: inst.task, group: groupOf(inst.task), id: inst.id, prompt: inst.prompt,
            ...r, oracleNfe: null, familyOracleNfe: null, nfeOverOracle: null, baselineWork: null, workOverBaseline: null,
          });
          tick('oracle');
        }
      }
    }
    const decodeSeconds = (performance.now() - t1) / 1000;
    const models = loaded.map((l) => l.plan.info);
    for (const l of loaded) await l.model.dispose();
    loaded.length = 0;

    // engine speed last, with the models released
    const t2 = performance.now();
    const { engine, engineNote } = await engineSection(o, plan.quick, log);
    const engineSeconds = (performance.now() - t2) / 1000;

    return assemble(rows, {
      command: o.command ?? 'paradec bench',
      startedAt,
      wallSeconds: (performance.now() - started) / 1000,
      phases: { loadSeconds, decodeSeconds, engineSeconds },
      seed,
      n: plan.n,
      quick: plan.quick,
      tasks: plan.tasks,
      machine: { cpus: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}` },
      models,
      skipped,
      engine,
      engineNote,
    });
  } finally {
    for (const l of loaded) await l.model.dispose();
  }
}

/** The result row of one decoded instance of a setting; a stopped instance scores 0. */
function settingRow(info: ModelInfo, setting: Setting, gen: GenerateOptions, inst: TaskInstance, r: InstanceResult): ResultRow {
  const row: ResultRow = {
    kind: 'setting', model: info.name, family: info.family, strategy: setting.strategy, setting: `${info.name}/${setting.label}`, label: setting.label,
    params: setting.params, gen: genRecord(gen), task: inst.task, group: groupOf(inst.task), id: inst.id, prompt: inst.prompt,
    output: r.text, score: scoreAnswer(inst, r.text), nfe: r.nfe, work: r.work, tokens: r.tokens, tokensPerForward: r.tokensPerForward, ms: r.ms,
    oracleNfe: null, familyOracleNfe: null, nfeOverOracle: null, baselineWork: null, workOverBaseline: null,
  };
  if (r.drafted !== undefined) row.drafted = r.drafted;
  if (r.accepted !== undefined) row.accepted = r.accepted;
  if (r.draftNfe !== undefined) row.draftNfe = r.draftNfe;
  if (r.draftWork !== undefined) row.draftWork = r.draftWork;
  if (r.schedule !== undefined) row.schedule = r.schedule;
  if (r.stopped !== undefined) {
    row.stopped = r.stopped;
    row.score = 0;
  }
  return row;
}

/** The engine-speed section (engine-speed.ts), or why it is missing. */
async function engineSection(o: BenchOptions, quick: boolean, log: (line: string) => void): Promise<Pick<BenchSummary, 'engine' | 'engineNote'>> {
  if (o.engine === false) return { engine: null, engineNote: 'skipped (--no-engine)' };
  log('engine speed: a random ~100M-parameter LLaDA-layout model at 256 tokens vs ORT MatMul');
  const { measureEngineSpeed } = await import('./engine-speed.js');
  const opts: EngineSpeedOptions = typeof o.engine === 'object' ? { ...o.engine } : {};
  if (quick) {
    opts.runs ??= QUICK.engineRuns;
    opts.warmup ??= QUICK.engineWarmup;
  }
  if (o.threads !== undefined) opts.threads ??= o.threads;
  opts.log ??= log;
  return { engine: await measureEngineSpeed(opts), engineNote: null };
}

/**
 * From the decoded rows (settings and oracle-strategy runs) to the full result: ETE's bound, the
 * baseline's work and the per-instance oracles attached, the family/model oracle rows added,
 * every setting summarized and the frontiers drawn.
 */
export function assemble(decoded: readonly ResultRow[], meta: SummaryMeta): BenchResult {
  const rows = decoded.map((r) => ({ ...r }));
  applyRoundsBound(rows);
  applyBaseline(rows);
  const all = [...rows, ...applyOracles(rows)];
  const settings = summarizeSettings(all);
  return { rows: all, summary: { version: 1, ...meta, settings, frontier: frontiers(settings) } };
}
