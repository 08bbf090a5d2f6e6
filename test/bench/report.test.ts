import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../src/bench/run.js';
import { writeBenchOutputs } from '../../src/bench/outputs.js';
import { trainingStatus } from '../../src/bench/training-status.js';
import type { SummaryMeta } from '../../src/bench/types.js';
import { frontierTable, renderPlots, renderReport } from '../../src/bench/report.js';
import { escapeXml, logTicks, niceTicks, renderPlot } from '../../src/bench/svg.js';
import type { EngineSpeedResult } from '../../src/bench/engine-speed.js';
import { fixtureRows, row } from './fixtures.js';

function meta(extra: Partial<SummaryMeta> = {}): SummaryMeta {
  return {
    command: 'paradec bench --quick',
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 12.5,
    phases: { loadSeconds: 1, decodeSeconds: 10, engineSeconds: 1.5 },
    seed: 0,
    n: 3,
    quick: true,
    tasks: ['copy', 'shuffle'],
    machine: { cpus: 2, node: 'v20', platform: 'linux-x64' },
    models: [{ name: 'm', dir: '/models/m', family: 'diffusion', params: 997248, training: 'trained 500 of 3000 steps', midTraining: true }],
    skipped: [{ model: 'm', setting: 'm/learn2pd', reason: 'no filter file' }],
    engine: null,
    engineNote: 'skipped (--no-engine)',
    ...extra,
  };
}

const engine: EngineSpeedResult = {
  model: { hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 2048, vocabSize: 8192, params: 97.5e6, matmulParams: 91e6 },
  seq: 256, batch: 1, threads: 2, quantize: 'none', forwardGflop: 49.12,
  forward: { medianMs: 1450, minMs: 1400, meanMs: 1460, samplesMs: [1450] },
  forwardWall: { medianMs: 1460, minMs: 1410, meanMs: 1470, samplesMs: [1460] },
  forwardGflops: 33.9,
  matmul: { shape: [256, 768, 3072], gflop: 1.2, time: { medianMs: 24.8, minMs: 24, meanMs: 25, samplesMs: [24.8] }, gflops: 48.6 },
  efficiencyPercent: 69.7, overheadPercent: 0.5, overheadMs: { transferAndReadback: 7, bookkeeping: 0.1 },
  setupSeconds: { checkpoint: 3, compileAndLoad: 2 },
};

test('ticks: round linear steps, 1-2-5 log steps', () => {
  assert.deepEqual(niceTicks(0, 100, 6), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(-2, 102, 6), [0, 25, 50, 75, 100]);
  assert.deepEqual(niceTicks(0, 4.3, 7), [0, 1, 2, 3, 4]);
  assert.deepEqual(logTicks(8, 600), [10, 20, 50, 100, 200, 500]);
  assert.equal(escapeXml('a<b & "c"'), 'a&lt;b &amp; &quot;c&quot;');
});

test('a plot has its title, axis labels, a legend entry per series and one marker per point', () => {
  const svg = renderPlot({
    title: 'Score vs tokens per forward pass',
    subtitle: 'tiny-dlm · seed 0',
    xLabel: 'tokens per forward pass',
    yLabel: 'score (%)',
    yDomain: [0, 100],
    series: [
      { name: 'threshold', points: [{ x: 1.5, y: 90 }, { x: 3, y: 70 }] },
      { name: 'confidence <k>', points: [{ x: 1, y: 95 }] },
      { name: 'oracle strategy', marker: 'star', line: false, points: [{ x: 4, y: 95, label: 'oracle' }] },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<title>Score vs tokens per forward pass<\/title>/);
  assert.match(svg, /class="title"[^>]*>Score vs tokens per forward pass</);
  assert.match(svg, /class="x-label"[^>]*>tokens per forward pass</);
  assert.match(svg, /class="y-label"[^>]*>score \(%\)</);
  const legend = [...svg.matchAll(/class="legend-entry"[^>]*>([^<]*)</g)].map((m) => m[1]);
  assert.deepEqual(legend, ['threshold', 'confidence &lt;k&gt;', 'oracle strategy']);
  assert.equal((svg.match(/<path d="M[^"]*L/g) ?? []).length, 1); // one curve with two points
  assert.ok(svg.includes('>oracle</text>'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const log = renderPlot({ title: 't', xLabel: 'ms', yLabel: 's', xScale: 'log', series: [{ name: 'a', points: [{ x: 10, y: 1 }, { x: 1000, y: 2 }] }] });
  assert.match(log, />ms \(log scale\)</);
});

test('the bench plots: score vs tokens/forward per task group, vs work and vs wall time, oracle marked', () => {
  const { summary } = assemble(fixtureRows(), meta());
  const plots = renderPlots(summary);
  assert.deepEqual(Object.keys(plots), ['score-vs-tpf-overall.svg', 'score-vs-tpf-zero-entropy.svg', 'score-vs-tpf-dependent.svg', 'score-vs-work.svg', 'score-vs-time.svg']);
  for (const [name, svg] of Object.entries(plots)) {
    const legend = [...svg.matchAll(/class="legend-entry"[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.ok(legend.includes('threshold') && legend.includes('confidence'), `${name}: ${legend.join(', ')}`);
    assert.ok(legend.includes('oracle strategy (Learn2PD)') && legend.includes('per-instance best of all'), name);
    assert.ok(legend.includes('Pareto frontier'), name);
    assert.match(svg, /class="y-label"[^>]*>score \(%\)</);
    assert.match(svg, /mid-training/);
  }
  assert.match(plots['score-vs-tpf-zero-entropy.svg']!, /<title>Score vs tokens per forward pass — zero-entropy tasks<\/title>/);
  assert.match(plots['score-vs-tpf-dependent.svg']!, /C\(Y\|X\) &gt; 0/);
  assert.match(plots['score-vs-time.svg']!, /class="x-label"[^>]*>mean wall time per instance \(ms\) \(log scale\)</);
  assert.match(plots['score-vs-work.svg']!, /class="x-label"[^>]*>mean positions computed per instance \(work\) \(log scale\)</);
});

test('report.md: frontier, all settings, oracle, bound, groups, per task, engine, skipped; mid-training said plainly', () => {
  const { rows, summary } = assemble(fixtureRows(), meta({ engine, engineNote: null }));
  const md = renderReport(summary, ['score-vs-time.svg']);
  for (const heading of ['## Pareto frontier: score vs tokens per forward (all tasks)', '## Pareto frontier: score vs wall time (all tasks)', '## All settings', '## The oracle, per instance', '## Bits-to-rounds lower bound (ETE)', '## By task group', '## Scores per task', '## Engine speed', '## Plots', '## Skipped settings']) {
    assert.ok(md.includes(heading), heading);
  }
  assert.match(md, /\*\*m was mid-training\*\* when this ran \(trained 500 of 3000 steps\)/);
  assert.match(md, /\*\*Wall time 12\.5 s\*\*/);
  // the frontier row of threshold tau=0.5: score 75, 48/13 tokens per forward, 13/12 of the oracle's passes
  assert.match(frontierTable(summary), /\| m \| threshold \| tau=0\.5 \| 75\.0 \| 50\.0 \| 100\.0 \| 3\.69 \| 4\.3 \| 1\.08× \|/);
  assert.match(md, /\| efficiency \| \*\*69\.7%\*\* of MatMul \|/);
  assert.match(md, /\| forward passes per second \| 0\.68 \|/);
  assert.match(md, /\| m \| threshold \(best setting per instance\) ◆ \| 100\.0 \| 3\/3 \| 6\.0 \|/);
  assert.match(md, /!\[score-vs-time\.svg\]\(score-vs-time\.svg\)/);
  assert.equal(rows.length, 12 + 3 + 3); // 4 settings × 3 + threshold family oracle + best of all
});

test('report.md: work and work ÷ baseline columns, ▲ where a setting out-computes the baseline, the frontier of score vs work', () => {
  const { summary } = assemble(fixtureRows(), meta());
  const md = renderReport(summary);
  assert.ok(md.includes('## Pareto frontier: score vs work (all tasks)'));
  // B: 650 positions per instance on average, 1950 / 1440 of the baseline's
  assert.match(frontierTable(summary), /\| tau=0\.5 \| 75\.0 \| 50\.0 \| 100\.0 \| 3\.69 \| 4\.3 \| 1\.08× \| 650 \| 1\.35× ▲ \|/);
  assert.match(md, /\| confidence \| k=1 \| 50\.0 \| 100\.0 \| 0\.0 \| [\d.]+ \| 16\.0 \| [\d.]+× \| 480 \| 1\.00× \|/);
  assert.match(md, /▲ More work than the one-token-per-step baseline: threshold tau=0\.5 \(1\.35×\)\./);
  assert.doesNotMatch(md, /▲ More work[^\n]*tau=0\.9/);
  // draft models' positions after a +
  const ar = (setting: string, id: string, work: number, draftWork?: number) =>
    row({ model: 'a', family: 'autoregressive', setting: `a/${setting}`, strategy: setting, id, score: 1, nfe: 5, work, ...(draftWork !== undefined ? { draftWork } : {}) });
  const arSummary = assemble([ar('greedy', 'copy-0-0', 24), ar('speculative', 'copy-0-0', 30, 40)], meta({ models: [{ name: 'a', dir: '/a', family: 'autoregressive', params: 1, training: null, midTraining: false }] })).summary;
  assert.match(renderReport(arSummary), /\| a \| speculative \| \(defaults\) \|[^\n]*\| 30 \+ 40 draft \| 1\.25× ▲ \|/);
});

test('report.md: which end-of-text fill the diffusion tables use, and which schedule each setting ran', () => {
  const withFill = (fill: (setting: string) => boolean) => fixtureRows().map((r) => ({ ...r, gen: { gen_length: 32, eos_fill: fill(r.setting) } }));
  assert.match(renderReport(assemble(withFill(() => true), meta()).summary), /End-of-text fill: \*\*on\*\* in every diffusion table/);
  assert.match(renderReport(assemble(withFill(() => false), meta()).summary), /End-of-text fill: \*\*off\*\* in every diffusion table \(`--no-eos-fill`\): a run on the base schedule takes exactly `steps` forward passes/);
  assert.match(renderReport(assemble(withFill((s) => s !== 'm/confidence k=1'), meta()).summary), /End-of-text fill: differs between diffusion settings/);

  const schedule = (kind: 'steps' | 'strategy', oneToken: number, steps: number) => ({ kind, steps: 32, baseSteps: kind === 'steps' ? steps : 0, strategySteps: kind === 'steps' ? 0 : steps, oneTokenSteps: oneToken, guaranteeSteps: 0, eosFill: true, eosFilled: 0 });
  const rows = fixtureRows().map((r) => ({ ...r, schedule: r.setting === 'm/threshold tau=0.9' ? schedule('strategy', r.nfe / 2, r.nfe) : schedule('steps', r.nfe, r.nfe) }));
  const md = renderReport(assemble(rows, meta()).summary);
  assert.match(md, /\| m \| threshold \| tau=0\.9 \|[^\n]*\| strategy, 1-token 50% \|/);
  assert.match(md, /\| m \| confidence \| k=1 \|[^\n]*\| steps \|\n/);
  assert.match(md, /schedule \(diffusion\): what set each step's token count/);
});

test('writeBenchOutputs writes results.jsonl (a row per instance and setting), summary.json, report.md and the SVGs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paradec-bench-out-'));
  try {
    const result = assemble([...fixtureRows(), row({ setting: 'm/x', id: 'copy-0-0', score: 1, nfe: 3 })], meta());
    const files = writeBenchOutputs(dir, result);
    assert.deepEqual(files.slice(0, 3), ['results.jsonl', 'summary.json', 'report.md']);
    assert.equal(files.filter((f) => f.endsWith('.svg')).length, 5);
    const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; setting: string; id: string });
    assert.equal(lines.length, result.rows.length);
    const keys = new Set(lines.map((l) => `${l.setting}|${l.id}`));
    assert.equal(keys.size, lines.length);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as typeof result.summary;
    assert.equal(summary.version, 1);
    assert.deepEqual(summary.frontier, result.summary.frontier);
    assert.ok(readFileSync(join(dir, 'report.md'), 'utf8').startsWith('# paradec bench'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('training status: a bare export short of its schedule is mid-training; a released model is mid-training only if its card says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paradec-status-'));
  try {
    mkdirSync(join(dir, 'run'));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ paradec: { trainedSteps: 500, run: 'run' } }));
    writeFileSync(join(dir, 'run', 'state.json'), JSON.stringify({ options: { steps: 3000 } }));
    assert.deepEqual(trainingStatus(dir), { text: 'trained 500 of 3000 steps', mid: true });
    writeFileSync(join(dir, 'README.md'), '| steps | 500 of 3000 (batch 32) |\nStopped before the end of its schedule and shipped.\n');
    assert.deepEqual(trainingStatus(dir), { text: 'trained 500 of 3000 steps', mid: false });
    writeFileSync(join(dir, 'README.md'), '| steps | 500 of 3000 (batch 32) |\nThis checkpoint is mid-training.\n');
    assert.equal(trainingStatus(dir).mid, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
