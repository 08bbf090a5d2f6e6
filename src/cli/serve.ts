/**
 * `paradec serve`: the OpenAI-compatible server and the live denoising page (src/server/).
 *
 *   paradec serve [--model NAME|DIR|NAME=DIR ...] [--host 127.0.0.1] [--port 8080] [--api-key KEY]
 *
 * SIGTERM / SIGINT: stop accepting, let running generations finish (up to --shutdown-grace),
 * cancel the rest, exit 0. A second SIGINT exits at once.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import { BUILTIN_MODELS_DIR, resolveModelDir } from '../model/locate.js';
import type { ModelSpec } from '../server/models.js';
import { dtypeFlag } from './flags.js';
import { loadProgress } from './load-progress.js';
// parseArgs directly, not main.ts' parseFlags: this module is imported lazily while main.ts is
// still inside its top-level await, and importing main.js back from here would deadlock.
import { parseArgs } from 'node:util';

const FLAGS = {
  model: { type: 'string', multiple: true },
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  parallel: { type: 'string' },
  queue: { type: 'string' },
  timeout: { type: 'string' },
  'max-body': { type: 'string' },
  'max-tokens': { type: 'string' },
  'shutdown-grace': { type: 'string' },
  threads: { type: 'string' },
  dtype: { type: 'string' },
  'no-memory-check': { type: 'boolean' },
  'models-dir': { type: 'string', multiple: true },
  'max-extra-models': { type: 'string' },
  'draft-threads': { type: 'string' },
  'max-client-connections': { type: 'string' },
  'no-batching': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const SERVE_USAGE = `usage: paradec serve [--model NAME|DIR|NAME=DIR ...] [--host 127.0.0.1] [--port 8080]
                     [--api-key KEY] [--parallel 8] [--queue 8] [--timeout 120]
                     [--max-body 1048576] [--max-tokens 1024] [--shutdown-grace 10] [--threads N]
                     [--dtype auto|fp32|int8|int4] [--no-memory-check] [--models-dir DIR ...] [--max-extra-models 4] [--draft-threads 1]
                     [--max-client-connections 64] [--no-batching]
  --model         repeatable; default: every built-in model present (tiny-dlm, tiny-ar, tiny-ar-draft)
  --api-key       require Authorization: Bearer KEY on /v1/* and /metrics (or env PARADEC_API_KEY)
  --parallel      generations running at once (default 8), whose forwards on one model run as one
                  batched forward (continuous batching; --no-batching: each on its own)
  --queue         generations waiting for a slot before 503 + Retry-After
  --timeout       seconds per request (queueing included); --shutdown-grace: seconds on SIGTERM
  --dtype         the served models' weights: fp32, int8 or int4 (every linear and the embedding
                  quantized); default auto: fp32 when it fits in memory, else the most precise that does
  --no-memory-check    load even when the memory estimate says the model will not fit
  --models-dir    repeatable: requests may name the models in DIR (by subdirectory name) as draft
                  models, drafters or datastores, besides the served and the built-in models
  --max-extra-models   draft models / drafters loaded at once (idle ones are freed after 60 s)
  --draft-threads      ORT threads of each draft model / drafter (requests cannot set them)
  --max-client-connections   open connections from one client address`;

const BUILTIN = ['tiny-dlm', 'tiny-ar', 'tiny-ar-draft'];

function int(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InputError(`--${flag} must be an integer >= ${min} (got '${v}')`);
  return n;
}

function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InputError(`--${flag} must be a positive number of seconds (got '${v}')`);
  return Math.round(n * 1000);
}

function modelSpecs(given: readonly string[] | undefined): ModelSpec[] {
  if (!given || given.length === 0) {
    const present = BUILTIN.filter((name) => existsSync(join(BUILTIN_MODELS_DIR, name, 'config.json')));
    if (present.length === 0) throw new InputError(`no built-in models in ${BUILTIN_MODELS_DIR}; pass --model DIR`);
    return present.map((name) => ({ name, dir: join(BUILTIN_MODELS_DIR, name) }));
  }
  return given.map((arg) => {
    const eq = arg.indexOf('=');
    const [name, where] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [null, arg];
    const dir = resolveModelDir(where);
    return { name: name ?? basename(dir), dir };
  });
}

function modelsDirs(given: readonly string[] | undefined): string[] {
  return (given ?? []).map((dir) => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--models-dir ${dir}: not a directory`);
    return dir;
  });
}

export async function commandServe(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(SERVE_USAGE + '\n');
    return;
  }
  if (positionals.length > 0) throw new InputError(`unexpected argument '${positionals[0]}'\n${SERVE_USAGE}`);
  const host = values.host ?? '127.0.0.1';
  const apiKey = values['api-key'] ?? process.env['PARADEC_API_KEY'] ?? null;
  const log = (line: string): void => void process.stderr.write(`paradec serve: ${line}\n`);
  const threads = int('threads', values.threads, 1);
  const dtype = dtypeFlag(values.dtype);
  // imported here, not at the top: the server, zod and the runtime cost `serve --help` 200 ms (measured)
  const { startServer } = await import('../server/app.js');
  const models = modelSpecs(values.model);
  const onProgress = loadProgress(models.map((m) => ('dir' in m ? m.dir : undefined)).filter((d) => d !== undefined));
  const server = await startServer({
    models,
    loadOptions: {
      ...(threads !== undefined ? { threads } : {}),
      ...(dtype !== undefined ? { dtype } : {}),
      ...(values['no-memory-check'] ? { checkMemory: false } : {}),
      ...(onProgress ? { onProgress } : {}),
      log,
    },
    host,
    port: int('port', values.port, 0) ?? 8080,
    apiKey,
    maxConcurrent: int('parallel', values.parallel, 1),
    maxQueue: int('queue', values.queue, 0),
    requestTimeoutMs: seconds('timeout', values.timeout),
    maxBodyBytes: int('max-body', values['max-body'], 1024),
    maxTokens: int('max-tokens', values['max-tokens'], 1),
    shutdownGraceMs: seconds('shutdown-grace', values['shutdown-grace']),
    modelsDirs: modelsDirs(values['models-dir']),
    maxExtraModels: int('max-extra-models', values['max-extra-models'], 1),
    extraModelThreads: int('draft-threads', values['draft-threads'], 0),
    maxConnectionsPerClient: int('max-client-connections', values['max-client-connections'], 1),
    batching: { enabled: values['no-batching'] !== true },
    log,
  });
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  if (!loopback && !apiKey) log(`warning: listening on ${host} without an API key: anyone who can reach this port can use it`);
  log(`listening on ${server.url} (page: ${server.url}/, API: ${server.url}/v1)`);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        log(`${sig} again: exiting now`);
        process.exit(1);
      }
      log(`${sig} received`);
      void server.close().finally(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Whatever native handle might still be open, the process ends once the server has stopped.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}
