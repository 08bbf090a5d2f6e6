/**
 * ADED's corpus datastore: the tri-gram table the drafter starts from (Liu et al., AAAI 2025,
 * arXiv:2407.12021; reference: liuxukun2000/Adaptix `DraftRetriever/src/lib.rs`, `Writer` and
 * `Reader`).
 *
 * Building (the reference's `Writer`): count every tri-gram (a, b, c) of every tokenized corpus
 * document, then normalise per bigram, so a bigram's continuations hold probabilities that sum
 * to 1. Loading (the reference's `Reader`): keep the 12 most probable continuations of each
 * bigram. During decoding the drafter adds 0.04 (capped at 3.0) to the tri-grams of the recent
 * context, so what the current text repeats soon outweighs the corpus (see aded.ts).
 *
 * File: `aded-datastore.safetensors` next to the model's weights, with `trigrams` (I32, [N, 3]:
 * a, b, c) and `probs` (F32, [N]); metadata records the vocabulary size and what the corpus was.
 * Built by `paradec datastore` (src/cli/datastore.ts).
 */
import { existsSync } from 'node:fs';
import { CheckpointError } from '../../errors.js';
import { readSafetensorsHeader, readTensorBytes, readTensorF32, writeSafetensors } from '../../model/safetensors.js';

/** The datastore file name inside a model directory. */
export const DATASTORE_FILE = 'aded-datastore.safetensors';

/** Continuations kept per bigram when loading (the reference Reader's `take(12)`). */
export const DATASTORE_TOP = 12;

export interface TrigramRows {
  /** [a, b, c] triples, row-major */
  trigrams: Int32Array;
  /** P(c | a, b) from the corpus counts */
  probs: Float32Array;
  /** documents and tri-grams counted */
  documents: number;
  counted: number;
}

/** Count tri-grams over tokenized documents and normalise per bigram. */
export function buildTrigramRows(documents: Iterable<readonly number[]>): TrigramRows {
  const counts = new Map<string, Map<number, number>>();
  let docs = 0;
  let counted = 0;
  for (const d of documents) {
    docs += 1;
    for (let i = 0; i + 2 < d.length; i++) {
      const key = `${d[i]!},${d[i + 1]!}`;
      let row = counts.get(key);
      if (!row) counts.set(key, (row = new Map()));
      row.set(d[i + 2]!, (row.get(d[i + 2]!) ?? 0) + 1);
      counted += 1;
    }
  }
  const trigrams: number[] = [];
  const probs: number[] = [];
  for (const [key, row] of counts) {
    const [a, b] = key.split(',').map(Number) as [number, number];
    let total = 0;
    for (const n of row.values()) total += n;
    for (const [c, n] of row) {
      trigrams.push(a, b, c);
      probs.push(n / total);
    }
  }
  return { trigrams: Int32Array.from(trigrams), probs: Float32Array.from(probs), documents: docs, counted };
}

export function writeDatastore(file: string, rows: TrigramRows, vocabSize: number, corpus: string): void {
  const n = rows.probs.length;
  writeSafetensors(
    file,
    { trigrams: { dtype: 'I32', shape: [n, 3], data: rows.trigrams }, probs: { dtype: 'F32', shape: [n], data: rows.probs } },
    { paradec: 'aded-datastore', vocab_size: String(vocabSize), corpus, documents: String(rows.documents), trigrams_counted: String(rows.counted) },
  );
}

/** One continuation of a bigram as loaded: (a, b) → c with its corpus probability. */
export interface DatastoreEntry {
  a: number;
  b: number;
  c: number;
  p: number;
}

/**
 * Read a datastore, keeping the `DATASTORE_TOP` most probable continuations of each bigram.
 * Errors name the file: missing, not a datastore, another vocabulary, ids out of range.
 */
export function readDatastore(file: string, vocabSize: number): DatastoreEntry[] {
  if (!existsSync(file)) throw new CheckpointError(`${file}: ADED datastore not found (build one with \`paradec datastore\`)`);
  const header = readSafetensorsHeader(file);
  const tri = header.tensors.get('trigrams');
  const probs = header.tensors.get('probs');
  if (!tri || !probs || tri.dtype !== 'I32' || tri.shape.length !== 2 || tri.shape[1] !== 3 || probs.shape[0] !== tri.shape[0]) {
    throw new CheckpointError(`${file}: not an ADED datastore (expects trigrams I32 [N, 3] and probs [N])`);
  }
  const vocab = Number(header.metadata['vocab_size']);
  if (Number.isFinite(vocab) && vocab !== vocabSize) {
    throw new CheckpointError(`${file}: built for a vocabulary of ${vocab} tokens, the model has ${vocabSize}`);
  }
  const ids = new Int32Array(Uint8Array.from(readTensorBytes(tri)).buffer); // copied: the read buffer need not be 4-byte aligned
  const p = readTensorF32(probs);
  const byBigram = new Map<number, DatastoreEntry[]>();
  for (let i = 0; i < p.length; i++) {
    const a = ids[3 * i]!;
    const b = ids[3 * i + 1]!;
    const c = ids[3 * i + 2]!;
    for (const t of [a, b, c]) {
      if (!(t >= 0 && t < vocabSize)) throw new CheckpointError(`${file}: token id ${t} in row ${i} is outside the vocabulary (0..${vocabSize - 1})`);
    }
    const key = a * vocabSize + b;
    let list = byBigram.get(key);
    if (!list) byBigram.set(key, (list = []));
    list.push({ a, b, c, p: p[i]! });
  }
  const out: DatastoreEntry[] = [];
  for (const list of byBigram.values()) {
    list.sort((x, y) => y.p - x.p || x.c - y.c);
    out.push(...list.slice(0, DATASTORE_TOP));
  }
  return out;
}
