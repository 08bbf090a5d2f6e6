/**
 * End to end in headless Chromium (Debian's `chromium`, driven by playwright-core): open the
 * page, run a prompt, watch the canvas complete, keep a screenshot in
 * test-artifacts/server-page.png.
 *
 * The model is the built-in `tiny-dlm` when it is present (models/tiny-dlm), else a random-weight
 * LLaDA checkpoint written here: the canvas fills the same way, only the tokens are noise.
 * Skipped when /usr/bin/chromium is missing (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { BUILTIN_MODELS_DIR } from '../../src/api.js';
import { startServer } from '../../src/server/app.js';
import { writeFixture } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test('page: run a prompt on a diffusion model and watch the canvas complete', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`, timeout: 90_000 }, async () => {
  const builtin = join(BUILTIN_MODELS_DIR, 'tiny-dlm');
  const trained = existsSync(join(builtin, 'config.json'));
  const fixture = trained ? null : writeFixture('paradec-serve-page-');
  const model = trained
    ? { name: 'tiny-dlm', dir: builtin, prompt: 'copy: ["Paul Payne", "Robert Riley", "Peter Stone"]', strategy: 'confidence', params: { k: '4' } as Record<string, string>, k: 4 }
    : { name: 'random-llada', dir: fixture!.llada, prompt: 'w5 w6 w7 w8', strategy: 'confidence', params: { k: '3' } as Record<string, string>, k: 3 };
  // a fixed schedule (k tokens per step): the canvas fills over several steps whatever the
  // model's confidences (a trained model commits this copy in one step under `threshold`)
  const server = await startServer({ models: [{ name: model.name, dir: model.dir }], port: 0, loadOptions: { threads: 1, ...(fixture ? { cacheDir: fixture.cacheDir } : {}) } });
  const profile = mkdtempSync(join(tmpdir(), 'paradec-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  const errors: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(server.url + '/');
    await page.waitForSelector(`#model option[value="${model.name}"]`, { state: 'attached' });
    await page.selectOption('#strategy', model.strategy);
    for (const [name, value] of Object.entries(model.params)) await page.fill(`[data-param="${name}"]`, value);
    await page.fill('#gen_length', '32');
    await page.fill('#prompt', model.prompt);
    await page.click('#run');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 60_000 });
    const status = await page.textContent('#status');
    assert.equal(await page.getAttribute('#status', 'data-state'), 'done', status ?? '');

    const cells = await page.$$eval('#canvas .cell', (els) => els.map((e) => ({ masked: e.classList.contains('masked'), step: Number((e as HTMLElement).dataset['step'] ?? -1) })));
    assert.equal(cells.length, 32);
    assert.equal(cells.filter((c) => c.masked).length, 0, 'every cell committed');
    const steps = new Set(cells.map((c) => c.step));
    assert.ok(steps.size >= 2, 'cells committed at different steps');
    const nfe = Number(await page.textContent('#stat-nfe'));
    assert.ok(nfe >= 1 && nfe <= 32, `forward passes ${nfe}`);
    assert.equal(nfe, Math.ceil(32 / model.k)); // confidence, k tokens per step
    assert.match((await page.textContent('#stat-ms')) ?? '', /^\d+ ms$/);
    assert.match((await page.textContent('#stat-committed')) ?? '', /^32 \/ 32$/);
    // work: every forward computed the whole canvas (prompt + 32), no KV cache
    const work = Number(await page.textContent('#stat-work'));
    assert.ok(work >= nfe * 33 && work % nfe === 0, `work ${work} positions over ${nfe} forwards`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'server-page.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close(1000);
    rmSync(profile, { recursive: true, force: true });
    fixture?.cleanup();
  }
});
