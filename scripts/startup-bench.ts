/**
 * Start-up time of the command line and of `loadModel`, from process start to exit, over repeated
 * runs (issue 16: `paradec generate` on tiny-dlm ≤ 0.5 s wall, ≤ 0.8 s on the first run after an
 * install; `loadModel` of a built-in model ≤ 150 ms with its compiled graph cached).
 *
 *   npm run bench:startup -- [--runs 10] [--warmup 1] [--trees dist,tsx] [--cases version,strategies,...]
 *                            [--base DIR] [--idle 0.15]
 *
 * A script rather than a `paradec` command: it measures the command line from outside (a fresh
 * process per run, as a user starts it), compares the compiled tree with the repository's tsx
 * path, and needs neither to be installed; it is a development tool and does not ship.
 *
 * Trees: `dist` (`node dist/cli/main.js`, what the installed package's bin/paradec.js imports;
 * only when `npm run build` has made it) and `tsx` (`node bin/paradec.js` in the repository, which
 * registers tsx and runs src/). Cases, each run in a fresh process:
 *   floor        `node -e 0` (Node's own start and exit)
 *   version      `paradec --version`
 *   strategies   `paradec strategies` (the registry, no model)
 *   generate     `paradec generate 'copy: [...]' --strategy threshold` on tiny-dlm, graph cache warm
 *   cold         the same with an empty graph cache: a fresh PARADEC_CACHE per run (the first run
 *                after an install)
 *   load         one process that imports the package and times `loadModel('tiny-dlm')` inside it
 *                (graph cache warm), then disposes the model: the process's wall/CPU, and the
 *                import and loadModel times it reports
 * `--base DIR` adds the dist/ of another checkout (built; e.g. `git archive <commit> | tar -x -C DIR`,
 * a node_modules link, `npm run build`), labelled `base`, to compare before and after a change
 * under the same load. Runs go round-robin over the cases (run 1 of every case, then run 2, …) so background load
 * hits every case alike. Wall time is measured here around the child (spawn to exit); CPU time is
 * the child's user + system time from /usr/bin/time (empty where it is missing). The warm cases
 * share one PARADEC_CACHE under the OS temp directory, filled by the warm-up, so the user's own
 * cache is neither read nor written. Prints a markdown table with p50 and p90 of each, and the
 * load average before and after (the machine is shared: wall time moves with it, CPU time less).
 *
 * `--idle SHARE` (Linux) keeps only the runs during which everything else on the machine used at
 * most SHARE of one core (busy time from /proc/stat over the run, less the child's own CPU): a
 * run above it is repeated, up to 10 times, then left out. On a machine that others load in
 * bursts, these are the numbers of a quiet machine, which --base alone cannot give (it only makes
 * the load alike for both trees); the table says how many runs were kept and tried.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROMPT = 'copy: ["Paul Payne", "Robert Riley", "Peter Stone"]';
const EXPECTED = '["Paul Payne", "Robert Riley", "Peter Stone"]';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    trees: { type: 'string' },
    cases: { type: 'string' },
    model: { type: 'string', default: 'tiny-dlm' },
    base: { type: 'string' },
    idle: { type: 'string' },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) {
  throw new Error('--runs must be a positive integer and --warmup a non-negative one');
}
const ALL_CASES = ['floor', 'version', 'strategies', 'generate', 'cold', 'load'] as const;
type CaseName = (typeof ALL_CASES)[number];
const cases = (values.cases?.split(',') ?? [...ALL_CASES]) as CaseName[];
for (const c of cases) if (!ALL_CASES.includes(c)) throw new Error(`unknown case '${c}' (cases: ${ALL_CASES.join(', ')})`);
const hasDist = existsSync(join(ROOT, 'dist/cli/main.js'));
const trees = values.trees?.split(',') ?? (hasDist ? ['dist', 'tsx'] : ['tsx']);
for (const t of trees) {
  if (t !== 'dist' && t !== 'tsx') throw new Error(`unknown tree '${t}' (dist, tsx)`);
  if (t === 'dist' && !hasDist) throw new Error('dist/ is not built: npm run build');
}
const base = values.base ? resolve(values.base) : null;
const idle = values.idle === undefined ? null : Number(values.idle);
if (idle !== null && !(idle >= 0)) throw new Error(`--idle must be a share of one core (e.g. 0.15), got '${values.idle}'`);
if (idle !== null && (!existsSync('/proc/stat') || !TIME)) throw new Error('--idle needs /proc/stat and /usr/bin/time');
/** A run past --idle is repeated this often before it is left out. */
const IDLE_TRIES = 10;
if (base && !existsSync(join(base, 'dist/cli/main.js'))) throw new Error(`--base ${base}: no dist/cli/main.js there`);
if (!hasDist && !values.trees) process.stderr.write('dist/ is not built (npm run build): measuring the tsx path only\n');

/** The load script: import the package, time loadModel and dispose, print the times as JSON. */
function loadScript(entry: string): string {
  return [
    `const t0 = performance.now();`,
    `const { loadModel } = await import(${JSON.stringify(entry)});`,
    `const t1 = performance.now();`,
    `const model = await loadModel(${JSON.stringify(values.model)});`,
    `const t2 = performance.now();`,
    `await model.dispose();`,
    `const t3 = performance.now();`,
    `console.log(JSON.stringify({ sinceStart: t0, import: t1 - t0, loadModel: t2 - t1, dispose: t3 - t2 }));`,
  ].join('\n');
}

/**
 * The load script as a file under the work directory: not `node --input-type=module -e`, because
 * the session worker inherits the parent's execArgv and `--input-type` fails its start.
 */
function loadFile(tree: string, entry: string): string {
  const file = join(work, `load-${tree}.mjs`);
  writeFileSync(file, loadScript(entry));
  return file;
}

interface Case {
  label: string;
  argv: string[];
  /** a fresh graph cache per run */
  freshCache?: boolean;
  check(stdout: string): void;
}

function casesFor(tree: string): Case[] {
  const root = tree === 'base' ? base! : ROOT;
  const cli = tree === 'tsx' ? [join(root, 'bin/paradec.js')] : [join(root, 'dist/cli/main.js')];
  const entry = pathToFileURL(join(root, tree === 'tsx' ? 'src/index.ts' : 'dist/index.js')).href;
  const loader = tree === 'tsx' ? ['--import', 'tsx'] : [];
  const out: Case[] = [];
  const expect = (what: string) => (stdout: string) => {
    if (!stdout.includes(what)) throw new Error(`expected '${what}' in the output, got: ${stdout.slice(0, 200)}`);
  };
  for (const c of cases) {
    if (c === 'floor') continue;
    if (c === 'version') out.push({ label: 'paradec --version', argv: [...cli, '--version'], check: expect('paradec ') });
    if (c === 'strategies') out.push({ label: 'paradec strategies', argv: [...cli, 'strategies'], check: expect('threshold') });
    const gen = [...cli, 'generate', PROMPT, '--strategy', 'threshold', '--model', values.model];
    const genCheck = values.model === 'tiny-dlm' ? expect(EXPECTED) : () => {};
    if (c === 'generate') out.push({ label: `paradec generate (${values.model}, graph cached)`, argv: gen, check: genCheck });
    if (c === 'cold') out.push({ label: `paradec generate (${values.model}, empty graph cache)`, argv: gen, freshCache: true, check: genCheck });
    if (c === 'load') {
      out.push({
        label: `loadModel('${values.model}') in one process (graph cached)`,
        argv: [...loader, loadFile(tree, entry)],
        check: expect('"loadModel"'),
      });
    }
  }
  return out;
}

interface Sample {
  wallMs: number;
  cpuMs: number | null;
  inner: Record<string, number> | null;
  /** CPU the rest of the machine used during the run, in cores (null without /proc/stat or a CPU time) */
  others: number | null;
}

/** Busy CPU time of the whole machine so far, in ms (/proc/stat: user, nice, system, irq, softirq, steal; in USER_HZ = 100). */
function machineBusyMs(): number | null {
  if (!existsSync('/proc/stat')) return null;
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) * 10;
}

async function runOnce(argv: string[], cacheDir: string, check: (stdout: string) => void): Promise<Sample> {
  const timeFile = join(cacheDir, '..', `time-${process.pid}.txt`);
  const cmd = TIME ? TIME : process.execPath;
  const args = TIME ? ['-f', '%U %S', '-o', timeFile, process.execPath, ...argv] : argv;
  const busy0 = machineBusyMs();
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PARADEC_CACHE: cacheDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const wallMs = performance.now() - started;
  const busy1 = machineBusyMs();
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim().split('\n').pop()}`);
  check(stdout);
  let cpuMs: number | null = null;
  if (TIME) {
    const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpuMs = ((user ?? NaN) + (sys ?? NaN)) * 1000;
    rmSync(timeFile, { force: true });
  }
  let inner: Record<string, number> | null = null;
  const last = stdout.trim().split('\n').pop() ?? '';
  if (last.startsWith('{"sinceStart"')) inner = JSON.parse(last) as Record<string, number>;
  const others = busy0 === null || busy1 === null || cpuMs === null ? null : Math.max(0, busy1 - busy0 - cpuMs) / wallMs;
  return { wallMs, cpuMs, inner, others };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i] ?? NaN;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms)}` : '–');

const work = mkdtempSync(join(tmpdir(), 'paradec-startup-'));
const warmCache = join(work, 'cache');
const plan: { tree: string; c: Case }[] = [];
if (cases.includes('floor')) plan.push({ tree: '', c: { label: '`node -e 0` (floor)', argv: ['-e', '0'], check: () => {} } });
for (const tree of [...(base ? ['base'] : []), ...trees]) for (const c of casesFor(tree)) plan.push({ tree, c });

const load0 = loadavg();
const samples = new Map<number, Sample[]>(plan.map((_, i) => [i, []]));
const tried = new Map<number, number>(plan.map((_, i) => [i, 0]));
let fresh = 0;
try {
  for (let r = 0; r < warmup + runs; r++) {
    for (const [i, { c }] of plan.entries()) {
      for (let attempt = 1; ; attempt++) {
        const cache = c.freshCache ? join(work, `fresh-${fresh++}`) : warmCache;
        const s = await runOnce(c.argv, cache, c.check);
        if (c.freshCache) rmSync(cache, { recursive: true, force: true });
        if (r < warmup) break;
        tried.set(i, tried.get(i)! + 1);
        const quiet = idle === null || (s.others !== null && s.others <= idle);
        if (quiet) samples.get(i)!.push(s);
        if (quiet || attempt >= IDLE_TRIES) break;
      }
    }
    process.stderr.write(r < warmup ? `warm-up ${r + 1}/${warmup}\n` : `run ${r - warmup + 1}/${runs}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const load1 = loadavg();

const lines = [
  `| command | tree | wall p50 | wall p90 | CPU p50 | CPU p90 |${idle === null ? '' : ' runs kept / tried |'}`,
  `|---|---|---|---|---|---|${idle === null ? '' : '---|'}`,
];
const innerLines: string[] = [];
for (const [i, { tree, c }] of plan.entries()) {
  const ss = samples.get(i)!;
  const wall = ss.map((s) => s.wallMs);
  const cpu = ss.flatMap((s) => (s.cpuMs === null ? [] : [s.cpuMs]));
  const kept = idle === null ? '' : ` ${ss.length} / ${tried.get(i)} |`;
  lines.push(`| ${c.label} | ${tree} | ${fmt(quantile(wall, 0.5))} | ${fmt(quantile(wall, 0.9))} | ${fmt(quantile(cpu, 0.5))} | ${fmt(quantile(cpu, 0.9))} |${kept}`);
  const inner = ss.flatMap((s) => (s.inner ? [s.inner] : []));
  if (inner.length > 0) {
    const keys = Object.keys(inner[0]!);
    innerLines.push(
      `- ${tree}: ` + keys.map((k) => `${k} p50 ${fmt(quantile(inner.map((x) => x[k] ?? NaN), 0.5))} / p90 ${fmt(quantile(inner.map((x) => x[k] ?? NaN), 0.9))} ms`).join(', '),
    );
  }
}
const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
process.stdout.write(
  [
    `Start-up, ${runs} runs after ${warmup} warm-up (ms; wall from spawn to exit, CPU = user + system of the child${TIME ? '' : ': /usr/bin/time missing'}).`,
    `Node ${process.version}; load average before ${la(load0)}, after ${la(load1)}.` +
      (idle === null ? '' : ` Only runs during which the rest of the machine used ≤ ${idle} of a core (--idle).`),
    '',
    ...lines,
    ...(innerLines.length > 0 ? ['', `Inside the load process (ms; sinceStart = process start to the import):`, ...innerLines] : []),
    '',
  ].join('\n'),
);
