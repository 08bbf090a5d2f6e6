#!/usr/bin/env node
// The `paradec` command. Two layouts reach this file:
//  - the repository (src/ present): run the TypeScript sources through tsx's loader, so a fresh
//    clone needs no build step (`npm ci && npx paradec generate …`) and an edit to src/ is what runs
//    next — never a stale dist/. A checkout without its dev dependencies (no tsx) runs dist/ if built.
//  - the installed package (no src/, see "files" in package.json): run the compiled dist/ in plain
//    Node — no loader, no transpiling at start-up.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

/** tsx's loader API, or null when tsx is not installed (it is a dev dependency). */
async function tsxApi() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return null;
  }
}

const tsx = existsSync(sources) ? await tsxApi() : null;
if (tsx) {
  tsx.register();
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write('paradec: neither dist/ (run `npm run build`) nor tsx (run `npm ci`) is here to run the command line\n');
  process.exit(2);
}
