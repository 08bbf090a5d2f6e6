/**
 * Shared by the server tests: random-weight checkpoints (tests never depend on the trained
 * built-in models), a server on a free 127.0.0.1 port, a model whose forward passes are slowed
 * down (to hold a generation slot long enough to test queueing and cancellation), SSE reading.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadModel, type ParadecModel } from '../../src/api.js';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import type { BidirectionalModel } from '../../src/runtime/types.js';
import { startServer, type ParadecServer, type ServerOptions } from '../../src/server/app.js';
import { sseData as readSse } from '../../src/server/sse.js';

export interface Fixture {
  dir: string;
  llada: string;
  llama: string;
  cacheDir: string;
  cleanup(): void;
}

export function writeFixture(prefix: string): Fixture {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const llada = join(dir, 'llada');
  const llama = join(dir, 'llama');
  writeRandomCheckpoint(llada, { architecture: 'llada', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 64, seed: 3 });
  writeRandomCheckpoint(llama, { architecture: 'llama', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, seed: 4, scale: 0.5 });
  return { dir, llada, llama, cacheDir: join(dir, 'cache'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function serve(fixture: Fixture, options: Partial<ServerOptions> = {}): Promise<ParadecServer> {
  return startServer({
    models: [
      { name: 'dlm', dir: fixture.llada },
      { name: 'ar', dir: fixture.llama },
    ],
    loadOptions: { threads: 1, cacheDir: fixture.cacheDir },
    port: 0,
    ...options,
  });
}

/**
 * The same diffusion model, each forward pass delayed by `ms`, and never predicting end-of-text
 * first (its top-1 and top-2 swap), so a generation runs its whole canvas instead of ending early
 * through end-of-text fill: the slot stays held as long as a test needs it.
 */
export async function slowDiffusionModel(fixture: Fixture, ms: number): Promise<ParadecModel> {
  const model = await loadModel(fixture.llada, { threads: 1, cacheDir: fixture.cacheDir });
  const inner = model.runtime as BidirectionalModel;
  const runtime: BidirectionalModel = Object.create(inner) as BidirectionalModel;
  (runtime as { forward: BidirectionalModel['forward'] }).forward = async (...args) => {
    await sleep(ms);
    const head = await inner.forward(...args);
    const k = head.k;
    for (let at = 0; at < head.batch * head.length; at++) {
      if (k > 1 && model.eosTokenIds.includes(head.topkIds[at * k]!)) {
        [head.topkIds[at * k], head.topkIds[at * k + 1]] = [head.topkIds[at * k + 1]!, head.topkIds[at * k]!];
        [head.topkProbs[at * k], head.topkProbs[at * k + 1]] = [head.topkProbs[at * k + 1]!, head.topkProbs[at * k]!];
      }
    }
    return head;
  };
  return { ...model, runtime, dispose: () => model.dispose() };
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

/** The `data:` payloads of an SSE response (JSON-parsed; the final `[DONE]` as the string). */
export function sseData(res: Response): AsyncGenerator<any> {
  return readSse(res);
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
