/**
 * The `paradec` command line.
 *
 *   paradec generate [--model DIR] [--strategy NAME] [--set k=v ...] "prompt"
 *   paradec generate --input prompts.jsonl --output results.jsonl
 *   paradec info [--model DIR]
 *   paradec strategies [--json | --markdown]
 *   paradec train ...            (see src/train/cli.ts)
 *   paradec bench-engine         (engine speed vs raw ONNX Runtime MatMul)
 *   paradec bench ...            (strategies × settings × task suite; src/bench/run.ts)
 *   paradec serve ...            (OpenAI-compatible server + live page, see src/cli/serve.ts)
 *   paradec bench-serve ...      (serving benchmark: throughput and latency under load)
 *   paradec train-filter ...     (Learn2PD's filter for a diffusion model)
 *   paradec datastore ...        (ADED's corpus tri-gram datastore for an autoregressive model)
 *
 * Errors a user can cause print one line and exit 1; anything else prints one line and exits 2
 * (set PARADEC_DEBUG=1 for the stack).
 */
import { VERSION } from '../model/locate.js';
import { ParadecError } from '../errors.js';

const USAGE = `paradec — parallel decoding for language models

usage:
  paradec generate [--model DIR] [--strategy NAME] [--set key=value ...]
                   [--gen-length N --steps N --block-length N] [--no-eos-fill] [--max-tokens N]
                   [--temperature T --top-p P --top-k K] [--cfg-scale S] [--seed S]
                   [--cache none|prefix|dual|delayed|window|vicinity] [--stop TEXT ...]
                   [--threads N] [--dtype auto|fp32|int8|int4] [--no-memory-check] [--json] "prompt"
  paradec generate --input prompts.jsonl --output results.jsonl [--batch-size N]
  paradec info [--model DIR] [--json]
  paradec strategies [--json | --markdown]
  paradec train --objective diffusion|causal --out DIR [...]   (paradec train --help)
  paradec train-filter [--model DIR] [--n 20] [--epochs 200] [--out FILE]   (Learn2PD filter)
  paradec datastore [--model DIR (tiny-ar)] [--corpus FILE | --n 2000 --seed 777] [--out FILE]   (ADED tri-grams)
  paradec bench-engine [--hidden 768 --layers 12 --seq 256 --runs 5]
  paradec bench [--model DIR ...] [--strategies a,b] [--sweep key=v1,v2] [--tasks ...]
                [--n N] [--seed S] [--out DIR] [--quick] [--dtype fp32,int8]   (paradec bench --help)
  paradec serve [--model NAME|DIR ...] [--host 127.0.0.1] [--port 8080] [--api-key KEY]
                [--dtype auto|fp32|int8|int4]
  paradec bench-serve [--url URL | --model NAME] [--concurrency 8 | --rate R | --sweep]
                      [--strategy NAME] [--requests N] [--out DIR]   (paradec bench-serve --help)

--model takes a checkpoint directory or a built-in model name (tiny-dlm, tiny-ar,
tiny-ar-draft); the default is tiny-dlm (tiny-ar for datastore).
--dtype (generate, serve, bench): the weights' data type, fp32, int8 or int4 (every linear and
the embedding block-quantized); default auto: fp32 when the model fits in the free memory, else
the most precise that does (said on stderr). paradec info prints what each one needs; a model
that would not fit fails before loading, unless --no-memory-check.
--no-eos-fill (diffusion, generate and bench): no end-of-text fill, so a run on the base
schedule takes exactly --steps forward passes (the fill, on by default, skips the passes after
a final end-of-text, which cannot change the text).`;

type Command = (argv: string[]) => Promise<void>;

/** Commands that load a model for ONNX Runtime (the worker is started before their modules load). */
const MODEL_COMMANDS = new Set(['generate', 'serve', 'bench', 'bench-engine']);

/** Commands that print their own, longer help for --help. */
const OWN_HELP = new Set(['train', 'bench', 'serve', 'bench-serve']);

/** The lines of USAGE for one command (its first line and the continuation lines under it). */
function usageOf(name: string): string {
  const out: string[] = [];
  let inside = false;
  for (const line of USAGE.split('\n')) {
    if (line.startsWith('  paradec ')) inside = line.startsWith(`  paradec ${name} `) || line === `  paradec ${name}`;
    else if (!line.startsWith('    ')) inside = false;
    if (inside) out.push(line);
  }
  const text = `usage:\n${out.join('\n')}`;
  return text.includes('--model') ? `${text}\n\n${USAGE.slice(USAGE.indexOf('--model takes'))}` : text;
}

/** --help / -h before a `--` separator (after it, it is a positional such as a prompt). */
function asksHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Every command is imported when it runs, so a command loads only its own module graph:
 * `--version` and `--help` load nothing beyond this file, `strategies` the registry, `info` a
 * checkpoint reader (measured on dist/: importing generate, info and strategies eagerly cost every
 * command ≈ 95 modules, protobufjs and onnxruntime-node included, 210–340 ms of CPU).
 */
const commands: Record<string, () => Promise<Command>> = {
  generate: async () => (await import('./generate.js')).commandGenerate,
  info: async () => (await import('./info.js')).commandInfo,
  strategies: async () => (await import('./strategies.js')).commandStrategies,
  train: async () => (await import('./train.js')).commandTrain,
  'bench-engine': async () => (await import('./bench-engine.js')).commandBenchEngine,
  bench: async () => (await import('./bench.js')).commandBench,
  serve: async () => (await import('./serve.js')).commandServe,
  'bench-serve': async () => (await import('./bench-serve.js')).commandBenchServe,
  'train-filter': async () => (await import('./train-filter.js')).commandTrainFilter,
  datastore: async () => (await import('./datastore.js')).commandDatastore,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 1;
  }
  if (name === '--version') {
    process.stdout.write(`paradec ${VERSION}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`paradec: unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})\n`);
    return 1;
  }
  if (!OWN_HELP.has(name) && asksHelp(rest)) {
    process.stdout.write(usageOf(name) + '\n');
    return 0;
  }
  // commands that open a model start ONNX Runtime's worker now, so its start (thread, native
  // binding, ORT environment: 250–450 ms measured) runs while the command's modules load and
  // the checkpoint is read (runtime/session.ts prewarmSessionWorker)
  if (MODEL_COMMANDS.has(name)) (await import('../runtime/session.js')).prewarmSessionWorker();
  try {
    await (await load())(rest);
    return 0;
  } catch (e) {
    if (e instanceof ParadecError) {
      process.stderr.write(`paradec ${name}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`paradec ${name}: ${e.message}\n`);
      return 1;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`paradec ${name}: internal error: ${message.split('\n')[0]}\n`);
    if (process.env['PARADEC_DEBUG'] && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 2;
  }
}

// cli/main.ts (tsx), cli/main.js (`node dist/cli/main.js`, which the start-up bench runs), or the bin
const isEntry = process.argv[1] !== undefined && /(?:cli[/\\]main\.[jt]s|paradec(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  // `paradec strategies | head`: a closed pipe ends the command quietly
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
