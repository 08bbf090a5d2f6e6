/**
 * Rewrite the generated strategy tables of the docs from the registry (`npm run docs:strategies`):
 * the regions between the `<!-- strategies:FAMILY:begin … -->` / `end` markers of
 * docs/strategies.md and docs/autoregressive.md; the prose around them is kept.
 */
import { writeStrategyDocs } from '../src/cli/strategy-docs.js';
import { PACKAGE_ROOT } from '../src/model/locate.js';

const changed = writeStrategyDocs(PACKAGE_ROOT);
process.stdout.write(changed.length ? `updated ${changed.join(', ')}\n` : 'strategy tables already up to date\n');
