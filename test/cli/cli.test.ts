import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, statSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import { allStrategies } from '../../src/decode/registry.js';
import { strategiesMarkdown, strategyTable } from '../../src/cli/strategy-docs.js';

const BIN = resolve('bin/paradec.js');
let dir: string;

function paradec(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, PARADEC_CACHE: join(dir, 'cache') }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'paradec-cli-'));
  writeRandomCheckpoint(join(dir, 'llada'), { architecture: 'llada', vocabSize: 40, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 2, intermediateSize: 32, seed: 5 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('generate --json reports text, forward passes, work, tokens per forward and the schedule', () => {
  const r = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '8', '--set', 'k=2', '--json', 'w4 w5']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { text: string; nfe: number; work: number; tokensPerForward: number; usage: { completionTokens: number; promptTokens: number }; schedule: { kind: string; eosFill: boolean } };
  assert.equal(out.nfe, 4);
  assert.equal(out.work, 4 * (out.usage.promptTokens + 8));
  assert.equal(typeof out.text, 'string');
  assert.deepEqual([out.schedule.kind, out.schedule.eosFill], ['strategy', true]);
  // --no-eos-fill: the base schedule's steps exactly; the summary line on stderr says which schedule ran
  const off = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '8', '--steps', '4', '--strategy', 'left-to-right', '--no-eos-fill', 'w4 w5']);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stderr, /4 forward passes, work \d+ positions, .*schedule: the base schedule \(steps 4\); end-of-text fill off/);
});

test('batch mode reads prompts.jsonl and writes one result row per prompt', () => {
  const input = join(dir, 'prompts.jsonl');
  const output = join(dir, 'results.jsonl');
  writeFileSync(input, ['{"id":"a","prompt":"w4 w5"}', '{"id":"b","prompt":"w6"}', '', '{"id":7,"prompt":"w7 w8 w9"}'].join('\n'));
  const r = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '8', '--input', input, '--output', output, '--batch-size', '2']);
  assert.equal(r.code, 0, r.stderr);
  const rows = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((x) => x['id']), ['a', 'b', '7']);
  for (const row of rows) {
    assert.deepEqual(Object.keys(row).sort(), ['completion_tokens', 'id', 'ms', 'nfe', 'text', 'work']);
    assert.equal(row['nfe'], 8);
    assert.ok((row['work'] as number) > 8 * 8);
  }
  // each row equals its single-prompt run
  const single = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '8', '--json', 'w6']);
  assert.equal((JSON.parse(single.stdout) as { text: string }).text, rows[1]!['text']);
});

test('bad input: one line on stderr naming the culprit, non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['generate', '--model', join(dir, 'missing'), 'x'], /missing/],
    [['generate', '--model', join(dir, 'llada'), '--strategy', 'nope', 'x'], /unknown strategy 'nope'/],
    [['generate', '--model', join(dir, 'llada'), '--set', 'q=1', 'x'], /unknown option 'q'/],
    [['generate', '--model', join(dir, 'llada'), '--gen-length', '8', '--block-length', '3', 'x'], /block_length 3/],
    [['generate', '--model', join(dir, 'llada'), '--gen-length', 'ten', 'x'], /--gen-length/],
    [['generate', '--model', join(dir, 'llada'), '--input', join(dir, 'none.jsonl'), '--output', join(dir, 'o.jsonl')], /none\.jsonl/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['generate', '--model', join(dir, 'llada'), '--dtype', 'int3', 'x'], /--dtype must be one of auto, fp32, int8, int4 \(got 'int3'\)/],
    [['generate', '--model', join(dir, 'llada'), '--dtype', 'fp16', 'x'], /--dtype fp16 is not offered: .*fp32/],
    [['serve', '--model', join(dir, 'llada'), '--dtype', 'int2'], /--dtype must be one of/],
    [['bench', '--model', join(dir, 'llada'), '--dtype', 'fp32,bf16'], /--dtype bf16 is not offered/],
  ];
  for (const [args, pattern] of cases) {
    const r = paradec(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('--dtype: generate loads the asked dtype and says so in --json; info prints what each dtype needs', () => {
  for (const dtype of ['fp32', 'int8', 'int4']) {
    const r = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '4', '--dtype', dtype, '--json', 'w4 w5']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dtype: string; nfe: number };
    assert.deepEqual([out.dtype, out.nfe], [dtype, 4]);
    assert.equal(r.stderr, '', 'an asked dtype is not announced');
  }
  // the default: a tiny model fits at fp32 on any machine that runs the tests, and nothing is said
  const auto = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '4', '--json', 'w4 w5']);
  assert.equal((JSON.parse(auto.stdout) as { dtype: string }).dtype, 'fp32');
  assert.equal(auto.stderr, '');
  const unchecked = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '4', '--dtype', 'int8', '--no-memory-check', '--json', 'w4 w5']);
  assert.equal((JSON.parse(unchecked.stdout) as { dtype: string }).dtype, 'int8', unchecked.stderr);
  const info = paradec(['info', '--model', join(dir, 'llada'), '--json']);
  assert.equal(info.code, 0, info.stderr);
  const mem = (JSON.parse(info.stdout) as { memory: { needs: Record<string, number>; available: number; default_dtype: string } }).memory;
  assert.deepEqual(Object.keys(mem.needs), ['fp32', 'int8', 'int4']);
  assert.ok(mem.needs['fp32']! >= mem.needs['int8']! && mem.needs['int8']! >= mem.needs['int4']!, JSON.stringify(mem.needs));
  assert.equal(mem.default_dtype, 'fp32');
  const text = paradec(['info', '--model', join(dir, 'llada')]);
  assert.match(text.stdout, /^memory\s+fp32 ~\d+ MB, int8 ~\d+ MB, int4 ~\d+ MB \(estimated to load and run 256 tokens, a first load's compiling included\)$/m);
});

test('a truncated checkpoint and NaN weights are named', () => {
  const broken = join(dir, 'broken');
  cpSync(join(dir, 'llada'), broken, { recursive: true });
  const st = join(broken, 'model.safetensors');
  truncateSync(st, statSync(st).size - 100);
  const r = paradec(['generate', '--model', broken, 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /model\.safetensors/);
  assert.equal(r.stderr.trim().split('\n').length, 1);

  const nan = join(dir, 'nan');
  cpSync(join(dir, 'llada'), nan, { recursive: true });
  const file = join(nan, 'model.safetensors');
  const bytes = readFileSync(file);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const [name, info] = Object.entries(header).find(([k]) => k !== '__metadata__')!;
  bytes.writeFloatLE(Number.NaN, 8 + headerLen + info.data_offsets[0] + 4);
  writeFileSync(file, bytes);
  const n = paradec(['generate', '--model', nan, 'x']);
  assert.equal(n.code, 1);
  assert.ok(n.stderr.includes(name), n.stderr);
  assert.match(n.stderr, /NaN|finite/i);
});

test('datastore: builds ADED tri-grams from a corpus next to the weights; refuses diffusion models and bad corpora', () => {
  const llama = join(dir, 'llama-ds');
  writeRandomCheckpoint(llama, { architecture: 'llama', vocabSize: 40, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 2, intermediateSize: 32, seed: 6 });
  const corpus = join(dir, 'corpus.jsonl');
  writeFileSync(corpus, ['{"text":"w4 w5 w6 w7"}', 'w4 w5 w8', ''].join('\n'));
  const r = paradec(['datastore', '--model', llama, '--corpus', corpus]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 documents/);
  assert.ok(statSync(join(llama, 'aded-datastore.safetensors')).size > 0);
  const g = paradec(['generate', '--model', llama, '--strategy', 'aded', '--max-tokens', '6', '--json', 'w4 w5']);
  assert.equal(g.code, 0, g.stderr);
  const bad: [string[], RegExp][] = [
    [['datastore', '--model', join(dir, 'llada'), '--corpus', corpus], /not an autoregressive model/],
    [['datastore', '--model', llama, '--corpus', join(dir, 'nope.txt')], /nope\.txt: cannot read/],
    [['generate', '--model', llama, '--strategy', 'aded', '--set', `datastore=${join(dir, 'none.st')}`, 'w4'], /none\.st not found/],
  ];
  writeFileSync(join(dir, 'broken.jsonl'), '{"text": 5}\n');
  bad.push([['datastore', '--model', llama, '--corpus', join(dir, 'broken.jsonl')], /line 1 has no string field "text"/]);
  for (const [args, pattern] of bad) {
    const b = paradec(args);
    assert.notEqual(b.code, 0, args.join(' '));
    assert.match(b.stderr, pattern);
    assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
  }
});

test('strategies: --json lists every registered strategy; --markdown prints the docs\' tables', () => {
  const json = paradec(['strategies', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { name: string }[]).map((s) => s.name), allStrategies().map((s) => s.name));
  const markdown = paradec(['strategies', '--markdown']);
  assert.equal(markdown.code, 0, markdown.stderr);
  assert.equal(markdown.stdout, strategiesMarkdown());
  assert.ok(markdown.stdout.includes(strategyTable('diffusion')) && markdown.stdout.includes(strategyTable('autoregressive')));
  const both = paradec(['strategies', '--json', '--markdown']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--json or --markdown/);
});

test('every command answers --help with its usage and exit 0; after -- it is a prompt', () => {
  for (const command of ['generate', 'info', 'strategies', 'train-filter', 'datastore', 'bench-engine', 'train', 'bench', 'serve']) {
    const r = paradec([command, '--help']);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, /usage/i, command);
    assert.match(r.stdout, new RegExp(command === 'train' ? 'train --objective' : `paradec ${command}`), command);
  }
  const short = paradec(['generate', '-h']);
  assert.match(short.stdout, /--strategy NAME/);
  assert.doesNotMatch(short.stdout, /paradec serve/, 'only the command asked about');
  // `--` ends the flags: a prompt that reads "--help" is generated, not taken as a flag
  const r = paradec(['generate', '--model', join(dir, 'llada'), '--gen-length', '4', '--json', '--', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { nfe: number }).nfe, 4);
});
