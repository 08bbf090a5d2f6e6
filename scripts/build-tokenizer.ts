/**
 * Builds paradec's task-suite tokenizer: models/tokenizer/tokenizer.json + tokenizer_config.json.
 *
 *   node --import tsx scripts/build-tokenizer.ts [outDir]
 *
 * Why this design: the built-in diffusion models decode on a 32-token canvas, so answers must be
 * short and every unit a model has to get right should be one token. Hence:
 * - every first name is one token (`Paul`) and every last name is one token WITH its leading
 *   space (` Payne`), so a name is exactly two tokens;
 * - the list glue is fused: `["`, `", "`, `"]` in answers, ` ["`, ` "`, `":` in prompts, and
 *   `, `, ` [`, `]:` for latin_square prompts; a list of n names is 3n + 1 tokens;
 * - each task word (`insert_index`...), each digit, each ASCII character (so each latin_square
 *   symbol A-Z/0-9 and `,`) and `\n` is one token.
 *
 * Mechanics (all standard tokenizer.json components, as @huggingface/tokenizers reads them): a Split
 * pre-tokenizer isolates glue, words (with an optional leading space) and single digits; a BPE
 * model with NO merges and `ignore_merges: true` maps a piece found in the vocabulary to its
 * token and splits any other piece into characters; characters outside the vocabulary (ASCII
 * control characters other than `\n`, and all non-ASCII text) fall back to their UTF-8 bytes
 * (`<0xC3>`...), and the decoder (ByteFallback, then Fuse) joins everything back. So
 * decode(encode(s)) === s for every well-formed string, names outside the lists included (they
 * are spelled letter by letter); `<|unk|>` is never produced by encoding. Only a lone UTF-16
 * surrogate, which has no UTF-8 form, comes back as U+FFFD.
 *
 * Special tokens have fixed ids: <|mask|> 0, <|endoftext|> 1, <|pad|> 2, <|unk|> 3. No token is
 * added automatically on encode (no post-processor): callers append <|endoftext|> themselves.
 * The chat template renders the last user message followed by exactly one `\n` (none added if
 * it already ends with one), matching `promptText` in src/tasks/format.ts.
 *
 * The output depends only on the name lists and TASK_NAMES, so rebuilding gives identical bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nameLists } from '../src/tasks/names.js';
import { TASK_NAMES } from '../src/tasks/suite.js';

export const SPECIAL_TOKENS = ['<|mask|>', '<|endoftext|>', '<|pad|>', '<|unk|>'] as const;

/** Multi-character punctuation pieces of the suite's prompts and answers. */
export const GLUE_TOKENS = ['["', '", "', '"]', ' ["', ' "', '":', ' [', ', ', ']:'] as const;

/**
 * Pre-tokenizer pattern: the glue pieces (longest first where they share a start), `\n`, a word
 * with an optional leading space, or one digit. Text between matches stays as its own pieces.
 */
export const SPLIT_PATTERN = String.raw`", "|"\]|":| \["|\["| "|, | \[|\]:|\n| ?[A-Za-z_]+|[0-9]`;

/** The last user message plus one newline (not doubled): the same text as promptText(). */
export const CHAT_TEMPLATE =
  "{%- set ns = namespace(content='') -%}" +
  "{%- for message in messages -%}{%- if message['role'] == 'user' -%}{%- set ns.content = message['content'] -%}{%- endif -%}{%- endfor -%}" +
  "{%- if ns.content.endswith('\\n') -%}{{ ns.content }}{%- else -%}{{ ns.content + '\\n' }}{%- endif -%}";

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

export interface BuiltTokenizer {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Tokens in id order. */
  vocab: string[];
}

export function buildTokenizer(): BuiltTokenizer {
  const { first, last } = nameLists();
  const vocab: string[] = [];
  const seen = new Set<string>();
  const add = (token: string): void => {
    if (!seen.has(token)) {
      seen.add(token);
      vocab.push(token);
    }
  };
  SPECIAL_TOKENS.forEach(add);
  add('\n');
  for (let c = 0x20; c <= 0x7e; c++) add(String.fromCharCode(c));
  GLUE_TOKENS.forEach(add);
  TASK_NAMES.forEach(add);
  first.forEach(add);
  last.forEach((name) => add(` ${name}`)); // the duplicated last names collapse here
  // Byte fallback for every character that is not a token itself: ASCII controls (except \n)
  // and the bytes of multi-byte UTF-8 sequences.
  for (let b = 0; b < 0x20; b++) if (b !== 0x0a) add(byteToken(b));
  add(byteToken(0x7f));
  for (let b = 0x80; b <= 0xff; b++) add(byteToken(b));

  const added = SPECIAL_TOKENS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|unk|>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: true,
      ignore_merges: true,
      vocab: Object.fromEntries(vocab.map((token, id) => [token, id])),
      merges: [],
    },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: null,
    eos_token: '<|endoftext|>',
    pad_token: '<|pad|>',
    unk_token: '<|unk|>',
    mask_token: '<|mask|>',
    // The suite's texts must come back byte for byte; HF's clean-up would eat spaces before ",".
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(
      added.map(({ id, ...token }) => [String(id), token]),
    ),
    chat_template: CHAT_TEMPLATE,
    // paradec's task models read `<prompt>\n`: the API normalises a plain prompt's trailing
    // newline to exactly one and adds no special tokens (src/api.ts, `linePrompt`).
    paradec_prompt_format: 'line',
  };
  return { tokenizer, config, vocab };
}

export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../models/tokenizer/', import.meta.url));

/**
 * The files' text. JSON.stringify would list the vocabulary's integer-like keys ("0".."9")
 * first; the vocabulary is written by hand instead so the file reads in id order.
 */
export function serializeTokenizer(built: BuiltTokenizer): { tokenizerJson: string; configJson: string } {
  const marker = '"@@VOCAB@@"';
  const model = built.tokenizer['model'] as Record<string, unknown>;
  const skeleton = { ...built.tokenizer, model: { ...model, vocab: JSON.parse(marker) as string } };
  const vocab = built.vocab.map((token, id) => `      ${JSON.stringify(token)}: ${id}`).join(',\n');
  const tokenizerJson = JSON.stringify(skeleton, null, 2).replace(marker, `{\n${vocab}\n    }`);
  return { tokenizerJson: `${tokenizerJson}\n`, configJson: `${JSON.stringify(built.config, null, 2)}\n` };
}

export function writeTokenizer(outDir: string = DEFAULT_OUT_DIR): BuiltTokenizer {
  const built = buildTokenizer();
  const { tokenizerJson, configJson } = serializeTokenizer(built);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'tokenizer.json'), tokenizerJson);
  writeFileSync(join(outDir, 'tokenizer_config.json'), configJson);
  return built;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = process.argv[2] !== undefined ? resolve(process.argv[2]) : DEFAULT_OUT_DIR;
  const { vocab } = writeTokenizer(outDir);
  console.log(`wrote ${join(outDir, 'tokenizer.json')} and tokenizer_config.json (${vocab.length} tokens)`);
}
