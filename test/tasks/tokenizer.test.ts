/** The suite tokenizer in models/tokenizer/, as @huggingface/tokenizers loads it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { buildTokenizer, GLUE_TOKENS, serializeTokenizer, SPECIAL_TOKENS } from '../../scripts/build-tokenizer.js';
import { generateSuite, TASK_NAMES, type TaskInstance } from '../../src/tasks/suite.js';
import { nameLists } from '../../src/tasks/names.js';
import { formatList } from '../../src/tasks/lists.js';
import { promptText } from '../../src/tasks/format.js';

const DIR = new URL('../../models/tokenizer/', import.meta.url);
const tokenizerText = readFileSync(new URL('tokenizer.json', DIR), 'utf8');
const configText = readFileSync(new URL('tokenizer_config.json', DIR), 'utf8');
const config = JSON.parse(configText) as Record<string, unknown>;
const tok = new Tokenizer(JSON.parse(tokenizerText) as object, config);

/** The diffusion models' answer canvas: the answer plus one end-of-text must fit. */
const CANVAS = 32;

const ids = (s: string): number[] => tok.encode(s, { add_special_tokens: false }).ids;
const tokens = (s: string): string[] => tok.encode(s, { add_special_tokens: false }).tokens;
const roundTrip = (s: string): string => tok.decode(ids(s), { skip_special_tokens: false });

const INSTANCES: TaskInstance[] = Array.from({ length: 10 }, (_, seed) => generateSuite({ seed: 1000 + seed, n: 40 })).flat();

test('the committed files are exactly what the build script writes', () => {
  const { tokenizerJson, configJson } = serializeTokenizer(buildTokenizer());
  assert.equal(tokenizerText, tokenizerJson, 'run: node --import tsx scripts/build-tokenizer.ts');
  assert.equal(configText, configJson);
});

test('special tokens have fixed small ids', () => {
  assert.deepEqual(
    SPECIAL_TOKENS.map((t) => tok.token_to_id(t)),
    [0, 1, 2, 3],
  );
  assert.deepEqual([...SPECIAL_TOKENS], ['<|mask|>', '<|endoftext|>', '<|pad|>', '<|unk|>']);
  assert.equal(config['eos_token'], '<|endoftext|>');
  assert.equal(config['pad_token'], '<|pad|>');
  assert.equal(config['mask_token'], '<|mask|>');
  assert.equal(config['unk_token'], '<|unk|>');
  assert.deepEqual(ids('<|endoftext|>'), [1]);
  assert.equal(tok.decode([5, 1], { skip_special_tokens: true }), ' ');
  const vocab = tok.get_vocab(true);
  assert.equal(vocab.size, buildTokenizer().vocab.length);
  assert.deepEqual([...vocab.values()].sort((a, b) => a - b), [...Array(vocab.size).keys()], 'ids are dense');
});

test('names, task words, glue, digits, letters and newline are single tokens', () => {
  const { first, last } = nameLists();
  for (const name of first) assert.deepEqual(tokens(name), [name]);
  for (const name of last) assert.deepEqual(tokens(` ${name}`), [` ${name}`]);
  for (const word of TASK_NAMES) assert.deepEqual(tokens(word), [word]);
  for (const glue of GLUE_TOKENS) assert.deepEqual(tokens(glue), [glue], glue);
  for (const ch of [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', '\n', '[', '"', ',', ']', ':']) assert.deepEqual(tokens(ch), [ch]);
  assert.deepEqual(tokens('["Paul Payne", "Robert Riley", "Peter Stone"]'), ['["', 'Paul', ' Payne', '", "', 'Robert', ' Riley', '", "', 'Peter', ' Stone', '"]']);
  assert.deepEqual(tokens('latin_square [A, 7, Q, C]:\n'), ['latin_square', ' [', 'A', ', ', '7', ', ', 'Q', ', ', 'C', ']:', '\n']);
  assert.deepEqual(tokens('insert_index 3 "Paul Payne": ["Peter Stone"]'), ['insert_index', ' ', '3', ' "', 'Paul', ' Payne', '":', ' ["', 'Peter', ' Stone', '"]']);
});

test('decode(encode(s)) === s for every prompt and reference of thousands of instances', () => {
  for (const inst of INSTANCES) {
    for (const s of [inst.prompt, promptText(inst.prompt), inst.reference]) assert.equal(roundTrip(s), s, inst.id);
    // No <|unk|>, and the prompt/answer boundary does not change the tokens (training relies on it).
    const joint = ids(promptText(inst.prompt) + inst.reference);
    assert.ok(!joint.includes(3), inst.id);
    assert.deepEqual(joint, [...ids(promptText(inst.prompt)), ...ids(inst.reference)], inst.id);
  }
});

test("the spec's examples and unknown text round-trip (byte fallback, never <|unk|>)", () => {
  const samples = [
    'copy: ["Paul Payne", "Robert Riley", "Peter Stone"]',
    '["Paul Payne", "Robert Riley", "Peter Stone"]',
    'latin_square [A, 7, Q, C]:',
    'A,7,Q,C\n7,Q,C,A\nQ,C,A,7\nC,A,7,Q',
    'sudoku:\n0042\n2031\n4023\n3214\n',
    '1342\n2431\n4123\n3214',
    'copy: ["Zoë Ñúñez", "Renée O\'Brien"]', // names outside the lists
    'tabs\tand\r\nCRLF, emoji 😀, CJK 漢字, NUL \u0000 DEL \u007f',
    '<|mask|><|endoftext|> literal <0x41> text',
    '  leading and trailing spaces  ',
    ' Payne Paul  Payne',
  ];
  for (const s of samples) {
    assert.equal(roundTrip(s), s, JSON.stringify(s));
    assert.ok(!ids(s).includes(3), `${JSON.stringify(s)} produced <|unk|>`);
  }
  assert.deepEqual(tokens('é'), ['<0xC3>', '<0xA9>']);
});

test('answers fit the 32-token canvas with end-of-text; lists are compact', () => {
  const maxAnswer = new Map<string, number>();
  const maxPrompt = new Map<string, number>();
  for (const inst of INSTANCES) {
    maxAnswer.set(inst.task, Math.max(maxAnswer.get(inst.task) ?? 0, ids(inst.reference).length));
    maxPrompt.set(inst.task, Math.max(maxPrompt.get(inst.task) ?? 0, ids(promptText(inst.prompt)).length));
  }
  for (const [task, n] of maxAnswer) assert.ok(n + 1 <= CANVAS, `${task}: ${n} answer tokens`);
  // Worst cases by construction: every name is 2 tokens, so a list of n names is 3n + 1.
  const { first, last } = nameLists();
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `${first[i]} ${last[i]}`);
  assert.equal(ids(formatList(names(6))).length, 19, '6-name list');
  assert.equal(ids(formatList(names(7))).length, 22, 'insert answer, 7 names');
  assert.equal(ids('A,7,Q,C\n7,Q,C,A\nQ,C,A,7\nC,A,7,Q').length, 31, 'latin square answer');
  assert.equal(maxAnswer.get('latin_square'), 31);
  assert.equal(Math.max(...maxAnswer.values()), 31);
  // Prompts (with their newline): longest is insert/replace_index with 6 names.
  assert.equal(ids(promptText(`insert_index 6 "${names(7)[6]}": ${formatList(names(6))}`)).length, 27);
  assert.ok(Math.max(...maxPrompt.values()) <= 27);
});

test('chat template renders the last user message plus exactly one newline', () => {
  const template = new Template(config['chat_template'] as string);
  for (const prompt of ['copy: ["Paul Payne"]', 'sudoku:\n0042\n2031\n4023\n3214', 'latin_square [A, 7, Q, C]:\n']) {
    const rendered = template.render({
      messages: [
        { role: 'user', content: 'an earlier turn' },
        { role: 'assistant', content: 'x' },
        { role: 'user', content: prompt },
      ],
      add_generation_prompt: true,
    });
    assert.equal(rendered, promptText(prompt));
  }
});
