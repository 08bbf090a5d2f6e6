/**
 * Progress bars on stderr (cli-progress), quiet when stderr is not a terminal except for a final
 * line, so logs and CI output stay readable.
 */
import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(label: string, total: number, fieldsFormat = ''): Progress {
  if (!process.stderr.isTTY) {
    let last = 0;
    const started = Date.now();
    return {
      update(done, fields) {
        const now = Date.now();
        if (now - last < 10_000 && done < total) return;
        last = now;
        const rate = done / Math.max(1e-3, (now - started) / 1000);
        const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
        const extra = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ') : '';
        process.stderr.write(`${label} ${done}/${total} eta ${eta}s${extra}\n`);
      },
      stop() {},
    };
  }
  // required here, when a bar is drawn on a terminal, not imported at the top: its 22 files cost
  // 17–30 ms of CPU (measured) to every command importing this module, `paradec generate` with one
  // prompt included, which never draws a bar. cli-progress is CommonJS: a synchronous require.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}${fieldsFormat}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done, fields) => bar.update(done, fields ?? {}),
    stop: () => bar.stop(),
  };
}
