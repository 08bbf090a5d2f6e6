/**
 * No import cycles in src/: a module graph without circles can be read (and changed) from the
 * leaves up, and its evaluation order never depends on who imports first.
 *
 * Every `src/**\/*.ts` is read; its relative imports are followed: static `import … from`,
 * `export … from`, side-effect `import '…'` and dynamic `import('…')` (a dynamic import closes a
 * circle as surely as a static one, which is how one hid in the past). `import type` / `export
 * type` statements are left out: the compiler erases them, so they order nothing at run time.
 * The cycles are the strongly connected components of that graph (Tarjan); the test names the
 * files of each.
 *
 * Plain fs and regular expressions, no library: paradec's sources are ESM with string-literal
 * specifiers, which a regex reads exactly, the whole scan takes milliseconds, and a dependency
 * (madge, dependency-cruiser) would be one more thing to install for one test.
 *
 * `PARADEC_IMPORTS_ROOT=/path/to/src` scans another tree (e.g. to see the test fail on a
 * checkout that still has a circle).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(process.env['PARADEC_IMPORTS_ROOT'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `import … from '…'` / `export … from '…'` (possibly over several lines), not type-only. */
const FROM = /^\s*(import|export)\s+(type\s+)?[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
/** `import '…'` (side effects only) */
const BARE = /^\s*import\s*['"]([^'"]+)['"]/gm;
/** `import('…')` */
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative specifiers a module imports at run time (and, with `types`, for its types too). */
function runtimeImports(source: string, types = false): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(FROM)) if (types || !m[2]) out.push(m[3]!);
  for (const m of source.matchAll(BARE)) out.push(m[1]!);
  for (const m of source.matchAll(DYNAMIC)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

/** The file a relative specifier names (`./x.js` is `./x.ts` in the sources). */
function resolveSpecifier(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return null; // not a source file (a JSON file, a package subpath): no edge
}

/** Strongly connected components with a cycle (more than one file, or a file importing itself). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the import scan sees static, re-exported, side-effect and dynamic imports, and skips type-only ones', () => {
  const source = [
    "import { a } from './a.js';",
    'import {',
    '  b,',
    "} from '../b.js';",
    "export { c } from './c.js';",
    "export * from './d.js';",
    "import './e.js';",
    "const f = await import('./f.js');",
    "import type { G } from './g.js';",
    "export type { H } from './h.js';",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(runtimeImports(source).sort(), ['../b.js', './a.js', './c.js', './d.js', './e.js', './f.js']);
  assert.deepEqual(runtimeImports(source, true).sort(), ['../b.js', './a.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js']);
  const graph = new Map([['x', ['y']], ['y', ['z']], ['z', ['x']], ['w', ['x']], ['s', ['s']]]);
  assert.deepEqual(cycles(graph), [['x', 'y', 'z'], ['s']]);
});

/** The cycles of src/'s import graph, as paths relative to src/. */
function sourceCycles(types: boolean): string[][] {
  const files = sourceFiles(ROOT);
  assert.ok(files.length > 50, `found the sources (${files.length} files under ${ROOT})`);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = runtimeImports(readFileSync(file, 'utf8'), types)
      .map((s) => resolveSpecifier(file, s))
      .filter((t): t is string => t !== null);
    graph.set(file, targets);
  }
  return cycles(graph).map((c) => c.map((f) => relative(ROOT, f)));
}

test('src/ has no import cycles (static or dynamic)', () => {
  const found = sourceCycles(false);
  assert.deepEqual(found, [], `import cycles:\n${found.map((c) => `  ${c.join(' ↔ ')}`).join('\n')}`);
});

test('src/ has no circles through type-only imports either: a shared type lives below both users', () => {
  const found = sourceCycles(true);
  assert.deepEqual(found, [], `import cycles counting type-only imports:\n${found.map((c) => `  ${c.join(' ↔ ')}`).join('\n')}`);
});
