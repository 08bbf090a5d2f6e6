/**
 * `cache` / refresh from every entry point: the library API, the CLI's flags (`--cache`,
 * `--set refresh=N`), and the server's request fields (`cache`, `cache_refresh`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, generateBatch, loadModel, type ParadecModel } from '../../src/api.js';
import { generateOptionsFromFlags } from '../../src/cli/generate.js';
import { parseCompletionRequest } from '../../src/server/schema.js';
import { HttpError } from '../../src/server/http-error.js';
import type { ParadecServer } from '../../src/server/app.js';
import { InputError, OptionError } from '../../src/errors.js';
import { postJson, serve, writeFixture, type Fixture } from '../server/helpers.js';

let fixture: Fixture;
let dlm: ParadecModel;
let ar: ParadecModel;

before(async () => {
  fixture = writeFixture('paradec-cache-options-');
  dlm = await loadModel(fixture.llada, { threads: 1, cacheDir: fixture.cacheDir });
  ar = await loadModel(fixture.llama, { threads: 1, cacheDir: fixture.cacheDir });
});

after(async () => {
  await dlm?.dispose();
  await ar?.dispose();
  fixture?.cleanup();
});

test('API: cache + cacheRefresh=1 gives the uncached text; fullForwards counts full passes', async () => {
  const options = { genLength: 12, blockLength: 4, steps: 6, strategy: 'confidence' };
  const base = await generateText(dlm, 'w5 w6 w7', options);
  assert.equal(base.fullForwards, base.nfe);
  for (const cache of ['prefix', 'dual', 'delayed', 'window', 'vicinity'] as const) {
    const exact = await generateText(dlm, 'w5 w6 w7', { ...options, cache, cacheRefresh: 1 });
    assert.equal(exact.text, base.text, cache);
    assert.equal(exact.nfe, base.nfe, cache);
    const cached = await generateText(dlm, 'w5 w6 w7', { ...options, cache, cacheOptions: { active: 2, window: 4, margin: 1 } });
    assert.ok(cached.fullForwards! < cached.nfe, `${cache}: ${cached.fullForwards} of ${cached.nfe}`);
  }
  // a batch with different prompt lengths
  const batch = await generateBatch(dlm, ['w5 w6 w7 w8 w9', 'w10'], { ...options, cache: 'dual' });
  assert.equal(batch.length, 2);
  for (const r of batch) assert.ok(r.fullForwards! <= 3 && r.fullForwards! >= 1);
});

test('API: bad cache options are OptionErrors', async () => {
  await assert.rejects(generateText(dlm, 'w5', { cacheRefresh: 2 }), (e: unknown) => e instanceof OptionError && /cache mode/.test(e.message));
  await assert.rejects(generateText(dlm, 'w5', { cache: 'bogus' as never }), (e: unknown) => e instanceof OptionError && /cache must be one of/.test(e.message));
  await assert.rejects(generateText(dlm, 'w5', { cache: 'dual', cacheRefresh: 0 }), (e: unknown) => e instanceof OptionError && /refresh/.test(e.message));
  await assert.rejects(generateText(ar, 'w5', { cache: 'dual' }), (e: unknown) => e instanceof OptionError && /diffusion/.test(e.message));
});

test('CLI: --cache MODE, and --set refresh=N / cache_* go to the cache, not the strategy', () => {
  const o = generateOptionsFromFlags({ cache: 'dual', set: ['refresh=4', 'tau=0.8', 'cache_window=12'] });
  assert.equal(o.cache, 'dual');
  assert.equal(o.cacheRefresh, 4);
  assert.deepEqual(o.cacheOptions, { window: 12 });
  assert.deepEqual(o.strategyOptions, { tau: '0.8' });
  const none = generateOptionsFromFlags({ set: ['tau=0.8'] });
  assert.equal(none.cache, undefined);
  assert.equal(none.cacheRefresh, undefined);
  assert.throws(() => generateOptionsFromFlags({ cache: 'everything' }), (e: unknown) => e instanceof InputError && /--cache must be one of/.test(e.message));
  assert.throws(() => generateOptionsFromFlags({ cache: 'dual', set: ['refresh=often'] }), (e: unknown) => e instanceof InputError && /refresh/.test(e.message));
});

test('server: cache and cache_refresh fields', async () => {
  const limits = { maxTokens: 64 };
  const r = parseCompletionRequest({ prompt: 'w5', cache: 'dual', cache_refresh: 3 }, limits);
  assert.equal(r.cache, 'dual');
  assert.equal(r.cacheRefresh, 3);
  assert.deepEqual(r.extraFields, {});
  assert.throws(() => parseCompletionRequest({ prompt: 'w5', cache: 'huge' }, limits), (e: unknown) => e instanceof HttpError && e.details.param === 'cache');
  assert.throws(() => parseCompletionRequest({ prompt: 'w5', cache_refresh: 0 }, limits), (e: unknown) => e instanceof HttpError && e.details.param === 'cache_refresh');

  let server: ParadecServer | undefined;
  try {
    server = await serve(fixture);
    const body = { model: 'dlm', prompt: 'w5 w6 w7', max_tokens: 8, strategy: 'confidence', strategy_options: { k: 2 } };
    const plain = await postJson(`${server.url}/v1/completions`, body);
    const exact = await postJson(`${server.url}/v1/completions`, { ...body, cache: 'dual', cache_refresh: 1 });
    assert.equal(plain.status, 200);
    assert.equal(exact.status, 200);
    assert.equal(exact.json.choices[0].text, plain.json.choices[0].text);
    const cached = await postJson(`${server.url}/v1/completions`, { ...body, cache: 'prefix' });
    assert.equal(cached.status, 200);
    const refreshOnly = await postJson(`${server.url}/v1/completions`, { ...body, cache_refresh: 2 });
    assert.equal(refreshOnly.status, 400);
    const onAr = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 4, cache: 'dual' });
    assert.equal(onAr.status, 400);
    assert.match(onAr.json.error.message, /diffusion/);
  } finally {
    await server?.close(1000);
  }
});
