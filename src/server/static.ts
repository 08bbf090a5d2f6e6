/**
 * The page's files (`web/`), served as they are: plain HTML, CSS and JavaScript modules, no
 * build step. The file list is read once at start and requests are matched against it by exact
 * name, so no request path ever reaches the file system (no `..` tricks to worry about).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** URL path (`/`, `/app.js`) → file, for every servable file directly in `dir`. */
export function loadStaticFiles(dir: string = WEB_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return files; // no page: the API still works
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(dir, name);
    if (!type || !statSync(path).isFile()) continue;
    files.set('/' + name, { body: readFileSync(path), type });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}
