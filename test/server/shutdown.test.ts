/**
 * Graceful shutdown: `paradec serve` on SIGTERM stops accepting, lets a running stream finish
 * and exits 0; in-process, a grace period that runs out cancels what is still running and
 * queued requests get 503.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { ParadecModel } from '../../src/api.js';
import { startServer } from '../../src/server/app.js';
import { postJson, slowDiffusionModel, sseData, waitFor, writeFixture, type Fixture } from './helpers.js';

const BIN = resolve('bin/paradec.js');
let fixture: Fixture;
let slow: ParadecModel;

before(async () => {
  fixture = writeFixture('paradec-serve-shutdown-');
  slow = await slowDiffusionModel(fixture, 20);
});

after(async () => {
  await slow?.dispose();
  fixture?.cleanup();
});

test('paradec serve: SIGTERM lets the running stream finish, then the process exits 0', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--model', `dlm=${fixture.llada}`, '--port', '0', '--threads', '1'], {
    env: { ...process.env, PARADEC_CACHE: fixture.cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => /listening on /.test(stderr) || child.exitCode !== null, 30_000, `the server to start (stderr: ${stderr})`);
    const url = /listening on (http:\/\/[^\s]+) /.exec(stderr)?.[1];
    assert.ok(url, stderr);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/); // loopback by default
    assert.equal((await fetch(`${url}/health`)).status, 200);

    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'w5 w6', gen_length: 256, stream: true, paradec_canvas: true }),
    });
    const frames = sseData(res);
    await frames.next();
    child.kill('SIGTERM');
    let last: unknown;
    for await (const d of frames) last = d;
    assert.equal(last, '[DONE]', 'the in-flight stream completes');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM received/);
    await assert.rejects(fetch(`${url}/health`)); // nothing listens any more
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('close(): queued requests get 503, a generation past the grace period is cancelled', async () => {
  const server = await startServer({ models: [{ name: 'slow', model: slow }], port: 0, maxConcurrent: 1, maxQueue: 4 });
  try {
    const running = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'w5', gen_length: 128, stream: true }),
    });
    const frames = sseData(running);
    const queued = postJson(`${server.url}/v1/completions`, { prompt: 'w5', gen_length: 4 });
    await waitFor(() => server.limiter.queued === 1 && server.limiter.running === 1, 10000, 'one running, one queued');
    const t0 = Date.now();
    const closed = server.close(100);
    const q = await queued;
    assert.equal(q.status, 503);
    assert.match(q.json.error.message, /shutting down/);
    const rest: unknown[] = [];
    for await (const d of frames) rest.push(d);
    const last = rest.at(-1) as { error?: { message: string } };
    assert.match(last.error?.message ?? '', /cancelled \(shutdown\)/);
    await closed;
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(server.metrics.generations.get({ model: 'slow', outcome: 'cancelled_shutdown' }), 1);
    await assert.rejects(fetch(`${server.url}/health`));
  } finally {
    await server.close(0).catch(() => undefined); // a failed assertion must not leave the server running
  }
});
