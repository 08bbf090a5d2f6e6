/**
 * Work, the end-of-text fill and the schedule report from every entry point: the library API
 * (result and `done` event), the CLI's flags, and the server's `eos_fill` field and `timings`.
 * Compiled random-weight models (the loops' exact counts are shown on scripted models in
 * test/decode/diffusion-work.test.ts and test/autoregressive/work.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePrompt, generate, generateText, loadModel, type GenerationEvent, type ParadecModel } from '../../src/api.js';
import { generateOptionsFromFlags, summaryLine } from '../../src/cli/generate.js';
import { parseCompletionRequest } from '../../src/server/schema.js';
import { HttpError } from '../../src/server/http-error.js';
import type { ParadecServer } from '../../src/server/app.js';
import { InputError, OptionError } from '../../src/errors.js';
import { postJson, serve, writeFixture, type Fixture } from '../server/helpers.js';

let fixture: Fixture;
let dlm: ParadecModel;
let ar: ParadecModel;

before(async () => {
  fixture = writeFixture('paradec-work-');
  dlm = await loadModel(fixture.llada, { threads: 1, cacheDir: fixture.cacheDir });
  ar = await loadModel(fixture.llama, { threads: 1, cacheDir: fixture.cacheDir });
});

after(async () => {
  await dlm?.dispose();
  await ar?.dispose();
  fixture?.cleanup();
});

test('API, diffusion: work is the canvas per forward (twice with guidance), and the done event carries it', async () => {
  const prompt = 'w5 w6 w7';
  const canvas = encodePrompt(dlm, prompt).length + 8;
  const events: GenerationEvent[] = [];
  for await (const ev of generate(dlm, prompt, { genLength: 8, strategy: 'confidence', strategyOptions: { k: 2 } })) events.push(ev);
  const done = events.at(-1)!;
  assert.equal(done.type, 'done');
  if (done.type !== 'done') return;
  assert.equal(done.work, done.nfe * canvas);
  assert.equal(done.schedule?.kind, 'strategy');
  const guided = await generateText(dlm, prompt, { genLength: 8, strategy: 'confidence', strategyOptions: { k: 2 }, cfgScale: 1 });
  assert.equal(guided.work, 2 * guided.nfe * canvas);
  const cached = await generateText(dlm, prompt, { genLength: 8, blockLength: 4, strategy: 'confidence', cache: 'dual' });
  assert.ok(cached.work < cached.nfe * canvas, `windows: ${cached.work} over ${cached.nfe} forwards`);
});

test('API, diffusion: eosFill false makes a base-schedule run take exactly `steps` forwards', async () => {
  for (const steps of [8, 4]) {
    const off = await generateText(dlm, 'w5 w6', { genLength: 8, steps, strategy: 'left-to-right', eosFill: false });
    assert.equal(off.nfe, steps);
    assert.deepEqual([off.schedule?.kind, off.schedule?.steps, off.schedule?.eosFill], ['steps', steps, false]);
    const on = await generateText(dlm, 'w5 w6', { genLength: 8, steps, strategy: 'left-to-right' });
    assert.ok(on.nfe <= steps);
    assert.equal(on.schedule?.eosFill, true);
  }
  await assert.rejects(generateText(ar, 'w5', { eosFill: false }), (e: unknown) => e instanceof OptionError && /eos_fill/.test(e.message));
});

test('API, autoregressive: the prompt once and one position per later forward; a stop string keeps the counts', async () => {
  const ids = encodePrompt(ar, 'w5 w6 w7');
  const r = await generateText(ar, 'w5 w6 w7', { maxTokens: 6 });
  assert.equal(r.work, ids.length + r.nfe - 1);
  assert.equal(r.draftWork, 0);
  assert.equal(r.schedule, undefined);
  const free = await generateText(ar, 'w5 w6', { maxTokens: 10 });
  const words = free.text.trim().split(' ');
  assert.ok(words.length >= 3, `need a few words: ${free.text}`);
  const cut = await generateText(ar, 'w5 w6', { maxTokens: 10, stop: [' ' + words[2]] });
  assert.equal(cut.work, encodePrompt(ar, 'w5 w6').length + cut.nfe - 1);
  assert.equal(cut.draftWork, 0);
  assert.match(summaryLine('ar', cut), /work \d+ positions/);
});

test('CLI: --eos-fill / --no-eos-fill, and the summary line names the schedule', async () => {
  assert.equal(generateOptionsFromFlags({ 'no-eos-fill': true }).eosFill, false);
  assert.equal(generateOptionsFromFlags({ 'eos-fill': true }).eosFill, true);
  assert.equal(generateOptionsFromFlags({}).eosFill, undefined);
  assert.throws(() => generateOptionsFromFlags({ 'eos-fill': true, 'no-eos-fill': true }), (e: unknown) => e instanceof InputError && /not both/.test(e.message));
  const r = await generateText(dlm, 'w5', { genLength: 8, strategy: 'threshold', eosFill: false });
  assert.match(summaryLine('dlm', r), /schedule: the strategy's own \(steps 8 not used\).*end-of-text fill off/);
});

test('server: eos_fill, and timings with the work and the schedule', async () => {
  const limits = { maxTokens: 64 };
  assert.equal(parseCompletionRequest({ prompt: 'w5', eos_fill: false }, limits).eosFill, false);
  assert.equal(parseCompletionRequest({ prompt: 'w5' }, limits).eosFill, undefined);
  assert.throws(() => parseCompletionRequest({ prompt: 'w5', eos_fill: 'no' }, limits), (e: unknown) => e instanceof HttpError && e.details.param === 'eos_fill');

  let server: ParadecServer | undefined;
  try {
    server = await serve(fixture);
    const body = { model: 'dlm', prompt: 'w5 w6 w7', max_tokens: 8, steps: 8, strategy: 'left-to-right', eos_fill: false };
    const res = await postJson(`${server.url}/v1/completions`, body);
    assert.equal(res.status, 200);
    const t = res.json.timings;
    assert.equal(t.forward_passes, 8);
    assert.equal(t.work, 8 * (encodePrompt(dlm, 'w5 w6 w7').length + 8));
    assert.equal(t.draft_work, null);
    assert.equal(t.schedule.kind, 'steps');
    assert.equal(t.schedule.eos_fill, false);
    const onAr = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 4 });
    assert.equal(onAr.status, 200);
    assert.equal(onAr.json.timings.work, encodePrompt(ar, 'w5').length + onAr.json.timings.forward_passes - 1);
    assert.equal(onAr.json.timings.draft_work, 0);
    assert.equal(onAr.json.timings.schedule, null);
    const refused = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 4, eos_fill: true });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.message, /eos_fill/);
  } finally {
    await server?.close(1000);
  }
});
