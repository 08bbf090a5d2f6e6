/**
 * The name lists of the waiting-line tasks, read from `data/` next to this file so the repo is
 * self-contained. They are loaded lazily (only generation needs them; parsing and scoring do
 * not) and kept in file order, duplicates included, because the spec's NAMES keeps the two
 * duplicated last names (Price, West) and that shifts the sampling weights.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

export interface NameLists {
  /** 92 first names, file order. */
  readonly first: readonly string[];
  /** 192 last names, file order, duplicates kept. */
  readonly last: readonly string[];
  /** NAMES: every `First Last` pair, first-name-major (92 × 192 = 17,664, duplicates kept). */
  readonly full: readonly string[];
}

let cached: NameLists | undefined;

function readList(file: string): string[] {
  const url = new URL(`./data/${file}`, import.meta.url);
  const lines = readFileSync(url, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, i) => {
    const name = line.replace(/\r$/, '');
    if (!/^[A-Z][A-Za-z]*$/.test(name)) {
      throw new InputError(`name list ${url.pathname}: line ${i + 1} (${JSON.stringify(line)}) is not a capitalized name`);
    }
    return name;
  });
}

export function nameLists(): NameLists {
  if (cached === undefined) {
    const first = Object.freeze(readList('first_names.txt'));
    const last = Object.freeze(readList('last_names.txt'));
    const full = Object.freeze(first.flatMap((f) => last.map((l) => `${f} ${l}`)));
    cached = Object.freeze({ first, last, full });
  }
  return cached;
}
