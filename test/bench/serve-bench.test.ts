/**
 * `paradec bench-serve` against a test server: every request measured, the latencies where they
 * belong, errors counted and shown, the report files written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchPrompts, runLevel, summarize } from '../../src/bench/serve-bench.js';
import { commandBenchServe } from '../../src/cli/bench-serve.js';
import type { ParadecServer } from '../../src/server/app.js';
import { serve, writeFixture, type Fixture } from '../server/helpers.js';

let fixture: Fixture;
let server: ParadecServer;
let out: string;

before(async () => {
  fixture = writeFixture('paradec-serve-bench-');
  server = await serve(fixture, { maxConcurrent: 4 });
  out = mkdtempSync(join(tmpdir(), 'paradec-serve-bench-out-'));
});

after(async () => {
  await server?.close(0);
  fixture?.cleanup();
  rmSync(out, { recursive: true, force: true });
});

test('prompts come from the task suite, seeded', () => {
  const a = benchPrompts(20, 7);
  assert.equal(a.length, 20);
  assert.deepEqual(benchPrompts(20, 7), a);
  assert.notDeepEqual(benchPrompts(20, 8), a);
  assert.ok(a.every((p) => /:/.test(p)), 'task prompts');
  // as many instances as asked for are drawn: no prompt repeats
  const many = benchPrompts(128, 7);
  assert.equal(new Set(many).size, 128);
});

test('a concurrency level: every request completes, with time to first token, inter-token latency and output tokens', async () => {
  const level = await runLevel({ url: server.url, model: 'ar', fields: { max_tokens: 6 } }, { load: { concurrency: 3 }, requests: 9, warmup: 1, seed: 1 });
  assert.equal(level.requests, 9);
  assert.equal(level.completed, 9, level.errorSamples.join('; '));
  assert.equal(level.errors, 0);
  assert.ok(level.outputTokensPerS > 0 && level.requestsPerS > 0);
  assert.ok(level.meanOutputTokens > 0 && level.meanOutputTokens <= 6);
  assert.ok(level.ttftMs.p50 !== null && level.ttftMs.p50 <= level.e2eMs.p50!, 'the first token comes before the end');
  assert.ok(level.itlMs.p50 !== null, 'several chunks per request give inter-token latencies');
});

test('a rate level, and errors are counted with their message', async () => {
  const bad = await runLevel({ url: server.url, model: 'nope' }, { load: { rate: 50 }, requests: 4, warmup: 0, seed: 1 });
  assert.equal(bad.errors, 4);
  assert.equal(bad.completed, 0);
  assert.match(bad.errorSamples[0]!, /^HTTP 404: model 'nope' not found/);
  const fine = await runLevel({ url: server.url, model: 'dlm', fields: { max_tokens: 8 } }, { load: { rate: 50 }, requests: 4, warmup: 0, seed: 1 });
  assert.equal(fine.completed, 4);
});

test('percentiles ignore failed requests', () => {
  const s = summarize({ concurrency: 1 }, [
    { ok: true, ttftMs: 10, e2eMs: 20, itlMs: [1, 3], outputTokens: 4 },
    { ok: false, error: 'x', ttftMs: null, e2eMs: 1000, itlMs: [], outputTokens: 0 },
  ], 2);
  assert.equal(s.e2eMs.p50, 20);
  assert.equal(s.outputTokensPerS, 2);
  assert.equal(s.errors, 1);
});

test('the command: a sweep against a running server writes JSON, markdown and the throughput plot', async () => {
  await commandBenchServe(['--url', server.url, '--model', 'ar', '--max-tokens', '4', '--sweep', '--requests', '2', '--warmup', '0', '--out', out]);
  const json = JSON.parse(readFileSync(join(out, 'serve-bench.json'), 'utf8'));
  assert.deepEqual(json.levels.map((l: { load: { concurrency: number } }) => l.load.concurrency), [1, 2, 4, 8, 16]);
  assert.ok(json.levels.every((l: { completed: number }) => l.completed === 2));
  const md = readFileSync(join(out, 'serve-bench.md'), 'utf8');
  assert.match(md, /\| 16 clients \| 2 \| 0 \|/);
  assert.ok(existsSync(join(out, 'throughput.svg')));
  await assert.rejects(commandBenchServe(['--url', server.url, '--rate', '2', '--sweep']), /one of --concurrency, --rate and --sweep/);
});
