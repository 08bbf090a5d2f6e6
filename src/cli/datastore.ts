/**
 * `paradec datastore`: build ADED's corpus tri-gram datastore for an autoregressive model
 * (src/decode/autoregressive/aded-datastore.ts), written next to its weights so that
 * `--strategy aded` finds it.
 *
 *   paradec datastore --model DIR --corpus FILE     one document per line: plain text, or JSONL
 *                                                   rows with a "text" field
 *   paradec datastore --model tiny-ar [--n 2000]    the task suite's text: n freshly seeded
 *                                                   instances per task, prompt + reference answer
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { encodePrompt, loadModel } from '../api.js';
import { buildTrigramRows, DATASTORE_FILE, writeDatastore } from '../decode/autoregressive/aded-datastore.js';
import { generateSuite } from '../tasks/suite.js';
import { parseFlags, positiveIntFlag } from './flags.js';

/** Documents of a corpus file: one per non-empty line, plain text or a JSON object's "text". */
export function corpusDocuments(file: string): string[] {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`--corpus ${file}: cannot read the file`);
  }
  const out: string[] = [];
  raw.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.trimStart().startsWith('{')) {
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        throw new InputError(`--corpus ${file}: line ${i + 1} starts with '{' but is not valid JSON`);
      }
      const text = (row as { text?: unknown }).text;
      if (typeof text !== 'string') throw new InputError(`--corpus ${file}: line ${i + 1} has no string field "text"`);
      out.push(text);
    } else out.push(line);
  });
  if (out.length === 0) throw new InputError(`--corpus ${file}: no documents (the file has no non-empty lines)`);
  return out;
}

export async function commandDatastore(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' },
    corpus: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
  } as const);
  const model = await loadModel(values.model ?? 'tiny-ar');
  try {
    if (model.family !== 'autoregressive') throw new InputError(`${model.dir} is not an autoregressive model; ADED drafts for autoregressive decoding`);
    let documents: number[][];
    let corpus: string;
    if (values.corpus) {
      documents = corpusDocuments(values.corpus).map((text) => model.tokenizer.encode(text, { addSpecialTokens: false }));
      corpus = `file ${values.corpus}`;
    } else {
      const n = positiveIntFlag('n', values.n, 2000);
      const seed = positiveIntFlag('seed', values.seed, 777);
      const eos = model.eosTokenIds.slice(0, 1);
      documents = generateSuite({ seed, n }).map((inst) => [
        ...encodePrompt(model, inst.prompt),
        ...model.tokenizer.encode(inst.reference, { addSpecialTokens: false }),
        ...eos,
      ]);
      corpus = `task suite, ${n} instances per task, seed ${seed}, prompt + reference answer + end-of-text`;
    }
    const rows = buildTrigramRows(documents);
    const out = values.out ?? join(model.dir, DATASTORE_FILE);
    writeDatastore(out, rows, model.runtime.vocabSize, corpus);
    process.stderr.write(`${rows.documents} documents, ${rows.counted} tri-grams counted, ${rows.probs.length} distinct; wrote ${out}\n`);
  } finally {
    await model.dispose();
  }
}
