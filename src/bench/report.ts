/**
 * report.md and the SVG plots of a bench run, drawn from its summary alone (so a summary.json can
 * be re-rendered without re-running anything).
 */
import { TASK_NAMES, ZERO_ENTROPY_TASKS, type TaskName } from '../tasks/suite.js';
import { formatEngineSpeed } from './engine-speed.js';
import { PALETTE, renderPlot, type Marker, type PlotSeries } from './svg.js';
import type { BenchSummary, GroupMetrics, SettingSummary } from './types.js';

export function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const KIND_NOTE: Record<SettingSummary['kind'], string> = {
  setting: '',
  'oracle-strategy': ' ★',
  'family-oracle': ' ◆',
  'model-oracle': ' ★★',
};

function settingName(s: SettingSummary, withModel: boolean): string {
  const label = s.label.startsWith(s.strategy) ? s.label.slice(s.strategy.length).trim() : s.label;
  const name = `${s.strategy}${label ? ` ${label}` : ''}${KIND_NOTE[s.kind]}`;
  return withModel ? `${s.model} · ${name}` : name;
}

const MAIN_HEAD = ['model', 'strategy', 'setting', 'score', 'zero-entropy', 'dependent', 'tokens/fwd', 'mean NFE', 'NFE ÷ oracle', 'mean work', 'work ÷ baseline', 'tokens/s', 'p50 ms', 'p95 ms'];

/** Whether a setting computed more positions than the one-token-per-step baseline. */
function overBaseline(g: GroupMetrics): boolean {
  return g.workOverBaseline !== null && g.workOverBaseline > 1 + 1e-9;
}

/** Mean work, with the draft models' after a `+` when there are any. */
function workCell(g: GroupMetrics): string {
  return `${fmt(g.meanWork, 0)}${g.meanDraftWork > 0 ? ` + ${fmt(g.meanDraftWork, 0)} draft` : ''}`;
}

/** work ÷ baseline, ▲ when it is over 1. */
function workRatioCell(g: GroupMetrics): string {
  return g.workOverBaseline === null ? '—' : `${fmt(g.workOverBaseline, 2)}×${overBaseline(g) ? ' ▲' : ''}`;
}

/** Which schedule a diffusion setting's instances ran (ScheduleReport.kind), with its one-token share where the strategy set the count. */
function scheduleCell(s: SettingSummary): string {
  const sc = s.schedule;
  if (!sc) return '—';
  const kinds = (['steps', 'strategy', 'mixed'] as const).filter((k) => sc[k] > 0);
  const kind = kinds.length === 1 ? kinds[0]! : kinds.map((k) => `${k} ${sc[k]}`).join(', ');
  const own = sc.strategy + sc.mixed > 0 && sc.oneTokenSteps > 0 ? `, 1-token ${fmt((100 * sc.oneTokenSteps) / sc.decisionSteps, 0)}%` : '';
  return `${kind}${own}`;
}

function mainRow(s: SettingSummary): string[] {
  const label = s.label.startsWith(s.strategy) ? s.label.slice(s.strategy.length).trim() : s.label;
  return [
    s.model,
    `${escapeCell(s.strategy)}${KIND_NOTE[s.kind]}`,
    escapeCell(label || '(defaults)'),
    fmt(s.overall.score),
    fmt(s.zeroEntropy?.score),
    fmt(s.dependent?.score),
    fmt(s.overall.tokensPerForward, 2),
    fmt(s.overall.meanNfe, 1),
    s.nfeOverOracle === null ? '—' : `${fmt(s.nfeOverOracle, 2)}×`,
    workCell(s.overall),
    workRatioCell(s.overall),
    fmt(s.overall.tokensPerSecond, 0),
    fmtMs(s.overall.p50Ms),
    fmtMs(s.overall.p95Ms),
  ];
}

function bySetting(summary: BenchSummary): Map<string, SettingSummary> {
  return new Map(summary.settings.map((s) => [s.setting, s]));
}

/** The frontier table (score vs tokens per forward over all tasks): what the README carries. */
export function frontierTable(summary: BenchSummary): string {
  const map = bySetting(summary);
  const rows = summary.frontier.overall.tokensPerForward.map((id) => map.get(id)!).filter(Boolean);
  const oracles = summary.settings.filter((s) => s.kind === 'oracle-strategy' || s.kind === 'model-oracle');
  return table(MAIN_HEAD, [...rows.map(mainRow), ...oracles.map(mainRow)]);
}

function groupCols(g: GroupMetrics | null): string[] {
  return g
    ? [fmt(g.score), fmt(g.meanNfe, 1), g.nfeOverOracle === null ? '—' : `${fmt(g.nfeOverOracle, 2)}×`, fmt(g.tokensPerForward, 2), fmt(g.tokensPerSecond, 0), fmtMs(g.p50Ms), fmtMs(g.p95Ms)]
    : ['—', '—', '—', '—', '—', '—', '—'];
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The end-of-text fill of the run's diffusion tables: one sentence for the header. */
function eosFillNote(summary: BenchSummary): string | null {
  const values = new Set(summary.settings.filter((s) => s.family === 'diffusion' && (s.kind === 'setting' || s.kind === 'oracle-strategy')).map((s) => s.gen['eos_fill']));
  if (values.size === 0) return null;
  const why = 'once an end-of-text is committed with no mask before it, the masks after it are filled with end-of-text without forward passes (the text cannot change any more), so `steps` is an upper bound';
  if (values.size > 1) return `End-of-text fill: differs between diffusion settings (\`eos_fill=…\` in their labels). On, ${why}; off, a run on the base schedule takes exactly \`steps\` forward passes.`;
  return values.has(false)
    ? 'End-of-text fill: **off** in every diffusion table (`--no-eos-fill`): a run on the base schedule takes exactly `steps` forward passes, as in LLaDA\'s reference and llama.cpp.'
    : `End-of-text fill: **on** in every diffusion table (the default): ${why}; \`--no-eos-fill\` gives the reference behaviour (exactly \`steps\` passes).`;
}

export function renderReport(summary: BenchSummary, plotFiles: readonly string[] = []): string {
  const out: string[] = [];
  const multi = summary.models.length > 1;
  const zero = summary.tasks.filter((t) => ZERO_ENTROPY_TASKS.includes(t));
  const dep = summary.tasks.filter((t) => !ZERO_ENTROPY_TASKS.includes(t));
  out.push('# paradec bench', '');
  out.push(`\`${summary.command}\``, '');
  out.push(
    `Run ${summary.startedAt} on ${summary.machine.cpus} CPU cores (${summary.machine.platform}, node ${summary.machine.node}). ` +
      `**Wall time ${fmt(summary.wallSeconds, 1)} s** (loading ${fmt(summary.phases.loadSeconds, 1)} s, decoding ${fmt(summary.phases.decodeSeconds, 1)} s, engine speed ${fmt(summary.phases.engineSeconds, 1)} s).`,
    '',
  );
  out.push(
    `Seed ${summary.seed}, ${plural(summary.n, 'instance')} per task${summary.quick ? ' (`--quick`)' : ''}. ` +
      `Zero-entropy tasks (C(Y|X) = 0): ${zero.join(', ') || 'none'}. Tasks whose outputs depend on each other (C(Y|X) > 0): ${dep.join(', ') || 'none'}.`,
    '',
  );
  out.push(table(['model', 'family', 'parameters', 'dtype', 'training'], summary.models.map((m) => [m.name, m.family, m.params.toLocaleString('en-US'), m.dtype ?? '—', `${m.training ?? '—'}${m.midTraining ? ' — **mid-training**' : ''}`])), '');
  for (const m of summary.models.filter((m) => m.midTraining)) {
    out.push(`> **${m.name} was mid-training** when this ran (${m.training}): its scores are not those of the finished model.`, '');
  }
  out.push(
    'Score: the suite\'s metric (per task the mean of 0/1 scores × 100; a group\'s and the overall score are the unweighted mean of their task scores). ' +
      'tokens/fwd: generated tokens (end-of-text included) ÷ forward passes (for autoregressive draft-and-verify: tokens per target pass). ' +
      'tokens/s and p50/p95: per-instance wall time, one instance at a time. ' +
      'NFE ÷ oracle: Σ forward passes ÷ Σ the per-instance oracle\'s, over the instances some run of that model solved. ' +
      'mean work: positions the model computed per instance, rows × tokens over every forward pass (a pass over several candidate canvases, verification rows or tree nodes counts each of them; guidance counts the unconditional canvas; a KV-cached pass its window); `+ N draft`: the draft models\' positions. ' +
      'work ÷ baseline: Σ work ÷ Σ the one-token-per-step baseline\'s work on the same instances (diffusion: the `confidence` k = 1 run the oracle is built on, at the run\'s base generation options; autoregressive: `greedy`); ▲ marks more work than the baseline. ' +
      '★ the oracle strategy, ★★ the best run of that model per instance, ◆ the best setting of one strategy per instance (measurements, not decoders).',
    '',
  );
  const fill = eosFillNote(summary);
  if (fill) out.push(fill, '');
  const map = bySetting(summary);

  out.push('## Pareto frontier: score vs tokens per forward (all tasks)', '');
  out.push('Settings no other setting beats on both score and tokens per forward, across all strategies and models; the oracle rows follow for reference.', '');
  out.push(frontierTable(summary), '');

  out.push('## Pareto frontier: score vs wall time (all tasks)', '');
  const timeRows = summary.frontier.overall.wallTime.map((id) => map.get(id)!).filter(Boolean);
  out.push(table([...MAIN_HEAD, 'mean ms'], timeRows.map((s) => [...mainRow(s), fmtMs(s.overall.meanMs)])), '');

  out.push('## Pareto frontier: score vs work (all tasks)', '');
  out.push(
    'Per model, the settings no other setting of that model beats on both score and mean work (positions computed per instance, lower is better): fewer sequential forward passes are not always less compute. ' +
      'Work compares the settings of one model (a causal model with its KV cache computes one position per token; a diffusion model its canvas per pass).',
    '',
  );
  const workRows = summary.frontier.overall.work.map((id) => map.get(id)!).filter(Boolean);
  out.push(table(MAIN_HEAD, workRows.map(mainRow)), '');

  for (const [name, fr] of [['zero-entropy tasks', summary.frontier.zeroEntropy], ['dependent tasks', summary.frontier.dependent]] as const) {
    if (fr.tokensPerForward.length === 0) continue;
    const list = fr.tokensPerForward.map((id) => map.get(id)!).filter(Boolean);
    out.push(`Frontier on ${name} (score vs tokens per forward): ${list.map((s) => `${settingName(s, multi)} (${fmt(name.startsWith('zero') ? s.zeroEntropy?.score : s.dependent?.score)} at ${fmt(name.startsWith('zero') ? s.zeroEntropy?.tokensPerForward : s.dependent?.tokensPerForward, 2)})`).join(', ')}.`, '');
  }

  out.push('## All settings', '');
  const listed = summary.settings.filter((s) => s.kind === 'setting' || s.kind === 'oracle-strategy');
  out.push(table([...MAIN_HEAD, 'NFE ÷ family best', 'schedule'], listed.map((s) => [...mainRow(s), s.nfeOverFamilyOracle === null ? '—' : `${fmt(s.nfeOverFamilyOracle, 2)}×`, scheduleCell(s)])), '');
  if (listed.some((s) => s.schedule !== null)) {
    out.push(
      'schedule (diffusion): what set each step\'s token count — `steps`: the base schedule (`steps`, `block_length`) at every step; `strategy`: the strategy\'s own rule (its `k`, its threshold, …) at every step, so `steps` neither set nor bounded the passes; `mixed`: both. ' +
        '1-token: the share of those steps that committed a single token (a threshold rule where nothing passed τ falls back to its most confident token: one token per forward pass).',
      '',
    );
  }
  const heavier = listed.filter((s) => overBaseline(s.overall));
  if (heavier.length) {
    out.push(`▲ More work than the one-token-per-step baseline: ${heavier.map((s) => `${settingName(s, multi)} (${fmt(s.overall.workOverBaseline, 2)}×)`).join(', ')}. Fewer sequential forward passes, more positions computed.`, '');
  }

  out.push('## The oracle, per instance', '');
  out.push(
    'For each instance, the fewest forward passes at which it is still solved. **oracle** ★ is the oracle strategy (Learn2PD\'s "extremely greedy parallel" oracle: ' +
      'it commits a position as soon as its prediction equals the one-token-per-step answer, so it solves exactly what `confidence k=1` solves). ' +
      '**best of all** ★★ takes, per instance, the solving run with the fewest forward passes among every setting of every strategy and the oracle strategy of that model (when none solved it, the run with the fewest forward passes). ' +
      '◆ does the same within one strategy\'s settings (ParallelBench\'s per-sample oracle). "solved" counts instances.',
    '',
  );
  const oracleRows = summary.settings.filter((s) => s.kind !== 'setting');
  out.push(
    table(
      ['model', 'oracle', 'score', 'solved', 'mean NFE', 'tokens/fwd', 'NFE ÷ oracle', 'mean ms'],
      oracleRows.map((s) => [s.model, `${escapeCell(s.label)}${KIND_NOTE[s.kind]}`, fmt(s.overall.score), `${s.overall.solved}/${s.overall.instances}`, fmt(s.overall.meanNfe, 1), fmt(s.overall.tokensPerForward, 2), s.nfeOverOracle === null ? '—' : `${fmt(s.nfeOverOracle, 2)}×`, fmtMs(s.overall.meanMs)]),
    ),
    '',
  );

  const bounded = summary.settings.filter((s) => s.roundsBound !== null);
  out.push('## Bits-to-rounds lower bound (ETE)', '');
  if (bounded.length === 0) {
    out.push('Not computed: it needs a diffusion model\'s per-token likelihoods (the oracle run) and a setting with a threshold `tau`.', '');
  } else {
    out.push(
      'ETE (arXiv:2511.21103): a decoder that commits only tokens of probability ≥ τ needs at least R ≥ max(L / ln((n+1)/((1−f)n+1)), L/f) rounds, ' +
        'with f = 1 − τ, L = −ln p(answer) in nats and n the tokens decided (both from the model\'s one-token-per-step run). ' +
        'A mean NFE below the bound means the decoder committed tokens below τ (the forced top-1 when nothing passes), where the bound does not hold; the bound is informative once the model is confident.',
      '',
    );
    out.push(table(['model', 'setting', 'τ', 'mean −ln p (nats)', 'mean bound (rounds)', 'mean NFE'], bounded.map((s) => [s.model, `${escapeCell(s.label)}${KIND_NOTE[s.kind]}`, fmt(s.roundsBound!.tau, 2), fmt(s.roundsBound!.meanNll, 2), fmt(s.roundsBound!.meanBound, 1), fmt(s.roundsBound!.meanNfe, 1)])), '');
  }

  out.push('## By task group', '');
  const real = summary.settings.filter((s) => s.kind !== 'family-oracle');
  out.push(
    table(
      ['setting', 'zero-entropy score', 'NFE', 'NFE ÷ oracle', 'tokens/fwd', 'tokens/s', 'p50 ms', 'p95 ms', 'dependent score', 'NFE', 'NFE ÷ oracle', 'tokens/fwd', 'tokens/s', 'p50 ms', 'p95 ms'],
      real.map((s) => [escapeCell(settingName(s, multi)), ...groupCols(s.zeroEntropy), ...groupCols(s.dependent)]),
    ),
    '',
  );

  out.push('## Scores per task', '');
  const tasks = TASK_NAMES.filter((t) => summary.tasks.includes(t));
  out.push(table(['setting', ...tasks], real.map((s) => [escapeCell(settingName(s, multi)), ...tasks.map((t: TaskName) => fmt(s.perTask[t]?.score, 0))])), '');
  out.push('Mean forward passes per task:', '');
  out.push(table(['setting', ...tasks], real.map((s) => [escapeCell(settingName(s, multi)), ...tasks.map((t: TaskName) => fmt(s.perTask[t]?.meanNfe, 1))])), '');

  out.push('## Engine speed', '');
  if (summary.engine) {
    const e = summary.engine;
    out.push(
      table(
        ['', ''],
        [
          ['model', `random LLaDA layout, ${fmt(e.model.params / 1e6, 1)}M parameters (hidden ${e.model.hiddenSize}, ${e.model.layers} layers, vocab ${e.model.vocabSize})`],
          ['input', `[${e.batch}, ${e.seq}] tokens, ${e.threads} threads${e.quantize === 'int4' ? ', int4' : ''}`],
          ['forward passes per second', fmt(1000 / e.forwardWall.medianMs, 2)],
          ['forward (ORT run, median)', `${fmt(e.forward.medianMs, 1)} ms for ${fmt(e.forwardGflop, 2)} GFLOP`],
          ['effective GFLOP/s', fmt(e.forwardGflops, 1)],
          [`raw ORT MatMul [${e.matmul.shape.join(', ')}] GFLOP/s`, fmt(e.matmul.gflops, 1)],
          ['efficiency', `**${fmt(e.efficiencyPercent, 1)}%** of MatMul`],
          ['JS overhead per step', `${fmt(e.overheadPercent, 2)}% of the forward`],
        ],
      ),
      '',
    );
    out.push('```', formatEngineSpeed(e), '```', '');
  } else {
    out.push(`Not measured: ${summary.engineNote ?? 'skipped'}.`, '');
  }

  if (plotFiles.length) {
    out.push('## Plots', '');
    for (const f of plotFiles) out.push(`![${f}](${f})`, '');
  }
  const stopped = summary.settings.filter((s) => s.kind !== 'family-oracle' && s.kind !== 'model-oracle' && s.stopped > 0);
  if (stopped.length) {
    out.push('## Instances stopped without progress', '');
    out.push(
      'Decoding was stopped at the forward-pass cap (8 × canvas + 16) and the instance scored 0: the decoder made no progress, typically because the model\'s top prediction at a masked position was the mask token itself (an undertrained model).',
      '',
    );
    out.push(table(['setting', 'stopped'], stopped.map((s) => [escapeCell(settingName(s, multi)), `${s.stopped}/${s.overall.instances}`])), '');
  }
  if (summary.skipped.length) {
    out.push('## Skipped settings', '');
    out.push(table(['setting', 'reason'], summary.skipped.map((s) => [escapeCell(s.setting), escapeCell(s.reason)])), '');
  }
  return out.join('\n');
}

type Pick = (s: SettingSummary) => GroupMetrics | null;

/** `perModel`: the frontier is one per model (work), drawn as a line per model. */
function curves(summary: BenchSummary, x: (g: GroupMetrics) => number, pick: Pick, frontier: readonly string[], perModel = false): PlotSeries[] {
  const multi = summary.models.length > 1;
  const strategies = [...new Set(summary.settings.filter((s) => s.kind === 'setting').map((s) => s.strategy))];
  const modelMarker: Marker[] = ['circle', 'square', 'triangle', 'diamond'];
  const series: PlotSeries[] = [];
  const groups = new Map<string, SettingSummary[]>();
  for (const s of summary.settings.filter((s) => s.kind === 'setting')) {
    const k = `${s.model}\u0000${s.strategy}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  for (const ss of groups.values()) {
    const first = ss[0]!;
    const mi = summary.models.findIndex((m) => m.name === first.model);
    series.push({
      name: multi ? `${first.strategy} (${first.model})` : first.strategy,
      color: PALETTE[strategies.indexOf(first.strategy) % PALETTE.length]!,
      marker: modelMarker[Math.max(0, mi) % modelMarker.length]!,
      points: ss.flatMap((s) => {
        const g = pick(s);
        return g && g.score !== null ? [{ x: x(g), y: g.score }] : [];
      }),
    });
  }
  const map = bySetting(summary);
  const fr = frontier.map((id) => map.get(id)!).filter(Boolean);
  const lines = perModel ? summary.models.map((m) => fr.filter((s) => s.model === m.name)) : [fr];
  for (const line of lines.filter((l) => l.length)) {
    series.push({
      name: perModel && multi ? `Pareto frontier (${line[0]!.model})` : 'Pareto frontier',
      color: '#555555',
      marker: 'circle',
      size: 2,
      dashed: true,
      line: true,
      points: line.flatMap((s) => {
        const g = pick(s);
        return g && g.score !== null ? [{ x: x(g), y: g.score }] : [];
      }),
    });
  }
  const bestColors = ['#b30000', '#7a0177', '#00468b', '#8c510a'];
  for (const s of summary.settings.filter((s) => s.kind === 'oracle-strategy' || s.kind === 'model-oracle')) {
    const g = pick(s);
    if (!g || g.score === null) continue;
    const oracle = s.kind === 'oracle-strategy';
    const mi = Math.max(0, summary.models.findIndex((m) => m.name === s.model));
    series.push({
      name: `${oracle ? 'oracle strategy (Learn2PD)' : 'per-instance best of all'}${multi ? ` (${s.model})` : ''}`,
      color: oracle ? '#111111' : bestColors[mi % bestColors.length]!,
      marker: 'star',
      size: 5,
      line: false,
      points: [{ x: x(g), y: g.score }],
    });
  }
  return series;
}

/** The plots, by file name. */
export function renderPlots(summary: BenchSummary): Record<string, string> {
  const models = summary.models.map((m) => `${m.name}${m.midTraining ? ' (mid-training)' : ''}`).join(' + ');
  const sub = (what: string) => `${models} · ${what} · n=${summary.n}/task · seed ${summary.seed}`;
  const plots: Record<string, string> = {};
  const groups: [string, string, Pick, BenchSummary['frontier']['overall']][] = [
    ['overall', `all ${summary.tasks.length} tasks`, (s) => s.overall, summary.frontier.overall],
    ['zero-entropy', 'zero-entropy tasks, C(Y|X) = 0', (s) => s.zeroEntropy, summary.frontier.zeroEntropy],
    ['dependent', 'tasks whose outputs depend on each other, C(Y|X) > 0', (s) => s.dependent, summary.frontier.dependent],
  ];
  for (const [slug, what, pick, fr] of groups) {
    if (!summary.settings.some((s) => pick(s) !== null)) continue;
    const tpfs = summary.settings.map((s) => pick(s)?.tokensPerForward ?? 0).filter((v) => Number.isFinite(v));
    const tpfMax = Math.max(1, ...tpfs) * 1.08;
    plots[`score-vs-tpf-${slug}.svg`] = renderPlot({
      title: `Score vs tokens per forward pass — ${slug === 'overall' ? 'all tasks' : slug === 'zero-entropy' ? 'zero-entropy tasks' : 'dependent tasks'}`,
      subtitle: sub(what),
      xLabel: 'tokens per forward pass (generated tokens ÷ NFE)',
      yLabel: 'score (%)',
      yDomain: [-2, 102],
      xDomain: [0, tpfMax],
      series: curves(summary, (g) => g.tokensPerForward, pick, fr.tokensPerForward),
      note: 'One curve per strategy (its settings); ★ oracle strategy and per-instance best (measurements); dashed: Pareto frontier.',
    });
  }
  plots['score-vs-work.svg'] = renderPlot({
    title: 'Score vs work per instance — all tasks',
    subtitle: sub(`all ${summary.tasks.length} tasks, positions the model computed (rows × tokens over every forward)`),
    xLabel: 'mean positions computed per instance (work)',
    yLabel: 'score (%)',
    xScale: 'log',
    yDomain: [-2, 102],
    series: curves(summary, (g) => g.meanWork, (s) => s.overall, summary.frontier.overall.work, true),
    note: 'One curve per strategy (its settings); ★ oracle strategy and per-instance best (measurements); dashed: Pareto frontier of each model.',
  });
  plots['score-vs-time.svg'] = renderPlot({
    title: 'Score vs wall time per instance — all tasks',
    subtitle: sub(`all ${summary.tasks.length} tasks, one instance at a time, ${summary.machine.cpus} CPU cores`),
    xLabel: 'mean wall time per instance (ms)',
    yLabel: 'score (%)',
    xScale: 'log',
    yDomain: [-2, 102],
    series: curves(summary, (g) => g.meanMs, (s) => s.overall, summary.frontier.overall.wallTime),
    note: 'One curve per strategy (its settings); ★ oracle strategy and per-instance best (measurements); dashed: Pareto frontier.',
  });
  return plots;
}
