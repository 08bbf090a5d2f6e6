/**
 * `npm run test:unit`: the fast inner loop — every test file except the integration tests listed
 * below, run on every core. `npm test` (CI) still runs them all.
 *
 * A test file is a unit test unless it compiles ONNX graphs or runs ONNX Runtime sessions,
 * starts a server, spawns the CLI, or trains: those cost 3–60 s of CPU each (measured per file),
 * the unit tests about 1 s each, most of it tsx's start-up. A new test file is a unit test by
 * default; add it here when it does one of those things.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const INTEGRATION = new Set([
  // ONNX graphs compiled and run
  'test/api/generate.test.ts',
  'test/api/work.test.ts',
  'test/autoregressive/onnx.test.ts',
  'test/cache/modes.test.ts',
  'test/cache/options.test.ts',
  'test/cache/window-forward.test.ts',
  'test/runtime/bidirectional.test.ts',
  'test/runtime/causal.test.ts',
  'test/runtime/engine-speed.test.ts',
  'test/runtime/float-bundle.test.ts',
  'test/runtime/load-cache.test.ts',
  'test/runtime/memory-check.test.ts',
  'test/runtime/onnx-export.test.ts',
  'test/runtime/runtime.test.ts',
  'test/runtime/variants.test.ts',
  // the bench end to end, the CLI in subprocesses
  'test/bench/bench.test.ts',
  'test/bench/serve-bench.test.ts',
  'test/cli/cli.test.ts',
  // servers (and the browser page)
  'test/server/hostile.test.ts',
  'test/runtime/continuous-batching.test.ts',
  'test/server/openai-clients.test.ts',
  'test/server/page.e2e.test.ts',
  'test/server/robustness.test.ts',
  'test/server/shutdown.test.ts',
  // the package packed, installed and run
  'test/package/pack.test.ts',
  // training runs
  'test/train/card.test.ts',
  'test/train/distill.test.ts',
  'test/train/train.test.ts',
]);

// a renamed integration test would silently join the fast loop: name it instead
for (const file of INTEGRATION) {
  if (!existsSync(file)) throw new Error(`scripts/test-unit.ts lists ${file}, which does not exist: update the list`);
}

const files = readdirSync('test', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join('test', d.name)).map((f) => `test/${d.name}/${f}`))
  .filter((f) => f.endsWith('.test.ts') && !INTEGRATION.has(f))
  .sort();

const args = ['--import', 'tsx', '--test', '--test-reporter=dot', `--test-concurrency=${availableParallelism()}`, ...process.argv.slice(2), ...files];
const { status } = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(status ?? 1);
