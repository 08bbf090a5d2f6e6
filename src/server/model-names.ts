/**
 * What a request may name when a strategy parameter points at something on disk (a draft model,
 * a drafter, a safe model, ADED's datastore): only models the server serves, the package's
 * built-in models, and the model directories the operator allowed with `--models-dir` — each by
 * its bare name. A name is never resolved against the server's working directory, and an error
 * names what may be asked for, never a path: a request learns nothing about the server's files
 * (before this, `datastore=package.json` read the server's own package.json, and 400 vs 500 told
 * whether a file existed).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DATASTORE_FILE } from '../decode/autoregressive/aded-datastore.js';
import { BUILTIN_MODELS_DIR } from '../model/locate.js';
import { HttpError } from './http-error.js';

/** A bare name: letters, digits, `.`, `_`, `-`, not starting with a dot (no separators, no `..`). */
const BARE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export class ModelNames {
  private readonly served: ReadonlyMap<string, string>;
  private readonly modelsDirs: readonly string[];

  /**
   * `served`: the server's models, name → checkpoint directory (models given as objects have
   * none and cannot be named); `modelsDirs`: directories whose model subdirectories may be named.
   */
  constructor(served: Iterable<readonly [string, string]>, modelsDirs: readonly string[] = []) {
    this.served = new Map(served);
    this.modelsDirs = modelsDirs.map((d) => resolve(d));
  }

  /** The checkpoint directory `name` stands for, or a 400 that lists what may be named. */
  model(param: string, name: string): string {
    const dir = this.lookup(name);
    if (dir) return dir;
    throw new HttpError(400, `${param}: ${this.what(name)} is not a model this server offers (${this.offered()})`, { param, code: 'model_not_found' });
  }

  /** ADED's datastore: `auto` and `none` as they are, else the datastore of a model that may be named. */
  datastore(param: string, value: string): string {
    if (value === 'auto' || value === 'none') return value;
    const dir = this.lookup(value);
    if (!dir) throw new HttpError(400, `${param}: ${this.what(value)} is not a model this server offers; a datastore is named by its model (${this.offered()}), or auto / none`, { param });
    if (!existsSync(join(dir, DATASTORE_FILE))) throw new HttpError(400, `${param}: the model '${value}' has no datastore`, { param });
    return dir;
  }

  private lookup(name: string): string | null {
    if (!BARE_NAME.test(name)) return null;
    const served = this.served.get(name);
    if (served) return served;
    for (const root of [...this.modelsDirs, BUILTIN_MODELS_DIR]) {
      const dir = join(root, name);
      if (existsSync(join(dir, 'config.json'))) return dir;
    }
    return null;
  }

  /** The requested value as an error shows it: a bare name as given, anything else not echoed. */
  private what(value: string): string {
    return BARE_NAME.test(value) ? `'${value}'` : 'a path (only bare model names are accepted)';
  }

  /** What may be named, for error messages: names only. */
  private offered(): string {
    const names = new Set(this.served.keys());
    for (const root of [...this.modelsDirs, BUILTIN_MODELS_DIR]) for (const name of modelNamesIn(root)) names.add(name);
    const list = [...names].sort();
    const shown = list.slice(0, 20).join(', ') + (list.length > 20 ? `, … (${list.length} in all)` : '');
    return `models: ${shown}`;
  }
}

function modelNamesIn(root: string): string[] {
  try {
    return readdirSync(root).filter((n) => BARE_NAME.test(n) && statSync(join(root, n)).isDirectory() && existsSync(join(root, n, 'config.json')));
  } catch {
    return [];
  }
}
