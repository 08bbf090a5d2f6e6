/**
 * The paradec task suite (spec: TASKS.md, after ParallelBench): task names, instance types,
 * generation, parsing prompts back into instances, and scoring.
 *
 * Held-out instances reach paradec as bare prompt strings, so every instance must be recoverable
 * from its prompt alone: `parsePrompt` rebuilds the task and its input, and checks that writing
 * them out again gives the prompt back character for character, so that anything it accepts is
 * exactly a prompt of the suite.
 */
import { InputError, OptionError } from '../errors.js';
import { normalizePrompt } from './format.js';
import { formatLatinSquare, randomLatinSquare, scoreLatinSquare } from './latin-square.js';
import {
  formatList,
  isValidListItem,
  parseListExact,
  scoreListMatch,
  scoreRandomInsert,
  scoreRandomRemove,
  scoreRandomReplace,
  scoreShuffle,
  sortedByCodepoint,
} from './lists.js';
import { nameLists } from './names.js';
import { Rng, seedFrom } from './rng.js';
import { formatSudoku, randomSudoku, scoreSudoku, solveSudoku, SUDOKU_SIZE } from './sudoku.js';

export const TASK_NAMES = [
  'copy',
  'sort',
  'reverse',
  'shuffle',
  'insert_index',
  'insert_random',
  'remove_index',
  'remove_random',
  'replace_index',
  'replace_random',
  'latin_square',
  'sudoku',
] as const;

export type TaskName = (typeof TASK_NAMES)[number];

/** Tasks whose answer is unique given the prompt (C(Y|X) = 0): parallel decoding can be exact. */
export const ZERO_ENTROPY_TASKS: readonly TaskName[] = Object.freeze([
  'copy',
  'sort',
  'reverse',
  'insert_index',
  'remove_index',
  'replace_index',
  'sudoku',
] as const);

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

export function isZeroEntropy(task: TaskName): boolean {
  return ZERO_ENTROPY_TASKS.includes(task);
}

/** Waiting-line input: the list in the prompt. */
export interface ListInput {
  readonly items: readonly string[];
}
export interface IndexInput extends ListInput {
  /** 0-based; insert_index allows items.length (append). */
  readonly index: number;
}
export interface WordInput extends ListInput {
  /** The name to insert or to replace with; never one of `items`. */
  readonly word: string;
}
export interface IndexWordInput extends IndexInput, WordInput {}
export interface LatinSquareInput {
  /** The symbols in prompt order (4 distinct characters from A-Z and 0-9 when generated). */
  readonly symbols: readonly string[];
}
export interface SudokuInput {
  /** 16 digits row-major, 0 = blank. */
  readonly puzzle: readonly number[];
  /** The unique solution, 16 digits row-major. */
  readonly solution: readonly number[];
}

/** What each task's instance carries: enough to write its prompt and to score any answer. */
export interface TaskInputs {
  copy: ListInput;
  sort: ListInput;
  reverse: ListInput;
  shuffle: ListInput;
  insert_index: IndexWordInput;
  insert_random: WordInput;
  remove_index: IndexInput;
  remove_random: ListInput;
  replace_index: IndexWordInput;
  replace_random: WordInput;
  latin_square: LatinSquareInput;
  sudoku: SudokuInput;
}

/** A task and its input: all that scoring needs. A union discriminated by `task`. */
export type TaskSpec<T extends TaskName = TaskName> = {
  [K in T]: { readonly task: K; readonly input: TaskInputs[K] };
}[T];

export type TaskInstance<T extends TaskName = TaskName> = TaskSpec<T> & {
  readonly id: string;
  /** Exactly as in the spec's table, without the trailing newline (see `promptText`). */
  readonly prompt: string;
  /** The answer text; for tasks with C(Y|X) > 0, one valid answer among many. */
  readonly reference: string;
};

/** The symbols of latin_square prompts: A-Z then 0-9. */
const LATIN_SYMBOLS: readonly string[] = Object.freeze([
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
]);

/** The prompt of a task instance, exactly as in the spec's table (no trailing newline). */
export function formatPrompt(spec: TaskSpec): string {
  switch (spec.task) {
    case 'copy':
    case 'sort':
    case 'reverse':
    case 'shuffle':
    case 'remove_random':
      return `${spec.task}: ${formatList(spec.input.items)}`;
    case 'insert_index':
    case 'replace_index':
      return `${spec.task} ${spec.input.index} "${spec.input.word}": ${formatList(spec.input.items)}`;
    case 'insert_random':
    case 'replace_random':
      return `${spec.task} "${spec.input.word}": ${formatList(spec.input.items)}`;
    case 'remove_index':
      return `remove_index ${spec.input.index}: ${formatList(spec.input.items)}`;
    case 'latin_square':
      return `latin_square [${spec.input.symbols.join(', ')}]:`;
    case 'sudoku':
      return `sudoku:\n${formatSudoku(spec.input.puzzle)}`;
  }
}

function withInserted(items: readonly string[], at: number, word: string): string[] {
  return [...items.slice(0, at), word, ...items.slice(at)];
}
function withRemoved(items: readonly string[], at: number): string[] {
  return [...items.slice(0, at), ...items.slice(at + 1)];
}
function withReplaced(items: readonly string[], at: number, word: string): string[] {
  return items.map((item, i) => (i === at ? word : item));
}

/** The waiting-line tasks whose answer list is unique. */
export type ExactListTask = 'copy' | 'sort' | 'reverse' | 'insert_index' | 'remove_index' | 'replace_index';

/** The unique answer list of the waiting-line tasks with C(Y|X) = 0. */
export function expectedList(spec: TaskSpec<ExactListTask>): string[] {
  switch (spec.task) {
    case 'copy':
      return [...spec.input.items];
    case 'sort':
      return sortedByCodepoint(spec.input.items);
    case 'reverse':
      return [...spec.input.items].reverse();
    case 'insert_index':
      return withInserted(spec.input.items, spec.input.index, spec.input.word);
    case 'remove_index':
      return withRemoved(spec.input.items, spec.input.index);
    case 'replace_index':
      return withReplaced(spec.input.items, spec.input.index, spec.input.word);
  }
}

/**
 * A valid answer. For C(Y|X) = 0 tasks it is the answer and `rng` is not touched; for the others
 * it is drawn uniformly from the valid answers (latin_square: see `randomLatinSquare`), so a
 * trainer can draw a fresh target for the same prompt each epoch.
 */
export function sampleReference(spec: TaskSpec, rng: Rng): string {
  switch (spec.task) {
    case 'copy':
    case 'sort':
    case 'reverse':
    case 'insert_index':
    case 'remove_index':
    case 'replace_index':
      return formatList(expectedList(spec));
    case 'shuffle': {
      const { items } = spec.input;
      if (new Set(items).size < 2) {
        throw new InputError(`shuffle: the list ${formatList(items)} has no different permutation`);
      }
      for (;;) {
        const perm = rng.shuffle([...items]);
        if (perm.some((item, i) => item !== items[i])) return formatList(perm);
      }
    }
    case 'insert_random':
      return formatList(withInserted(spec.input.items, rng.int(0, spec.input.items.length), spec.input.word));
    case 'remove_random':
      return formatList(withRemoved(spec.input.items, rng.int(0, spec.input.items.length - 1)));
    case 'replace_random':
      return formatList(withReplaced(spec.input.items, rng.int(0, spec.input.items.length - 1), spec.input.word));
    case 'latin_square':
      return formatLatinSquare(randomLatinSquare(spec.input.symbols, rng));
    case 'sudoku':
      return formatSudoku(spec.input.solution);
  }
}

/** A stable id from the content, for instances that have no suite position (parsed prompts). */
function contentId(task: TaskName, prompt: string): string {
  return `${task}-${seedFrom(prompt).toString(16).padStart(8, '0')}`;
}

/**
 * A waiting line: n uniform in 3..6, n distinct entries of NAMES, redrawn (same n) until all
 * first names and all last names are distinct.
 */
function drawWaitingLine(rng: Rng): string[] {
  const { full } = nameLists();
  const n = rng.int(3, 6);
  for (;;) {
    const items = rng.sample(full, n);
    const firsts = new Set(items.map((name) => name.split(' ')[0]));
    const lasts = new Set(items.map((name) => name.split(' ')[1]));
    if (firsts.size === n && lasts.size === n) return items;
  }
}

/** A name from NAMES that is not in the list. */
function drawWord(rng: Rng, items: readonly string[]): string {
  const { full } = nameLists();
  for (;;) {
    const word = rng.choice(full);
    if (!items.includes(word)) return word;
  }
}

function drawSpec(task: TaskName, rng: Rng): TaskSpec {
  switch (task) {
    case 'copy':
    case 'sort':
    case 'reverse':
    case 'shuffle':
    case 'remove_random':
      return { task, input: { items: drawWaitingLine(rng) } };
    case 'insert_index':
    case 'replace_index': {
      const items = drawWaitingLine(rng);
      const index = rng.int(0, task === 'insert_index' ? items.length : items.length - 1);
      return { task, input: { items, index, word: drawWord(rng, items) } };
    }
    case 'insert_random':
    case 'replace_random': {
      const items = drawWaitingLine(rng);
      return { task, input: { items, word: drawWord(rng, items) } };
    }
    case 'remove_index': {
      const items = drawWaitingLine(rng);
      return { task, input: { items, index: rng.int(0, items.length - 1) } };
    }
    case 'latin_square':
      return { task, input: { symbols: rng.sample(LATIN_SYMBOLS, 4) } };
    case 'sudoku':
      return { task, input: randomSudoku(rng, 4) };
  }
}

/** One random instance of `task`; `id` defaults to a hash of the prompt. */
export function generateInstance(task: TaskName, rng: Rng, id?: string): TaskInstance {
  if (!isTaskName(task)) throw new OptionError(`generateInstance: unknown task ${JSON.stringify(task)}`);
  const spec = drawSpec(task, rng);
  const prompt = formatPrompt(spec);
  return { ...spec, id: id ?? contentId(task, prompt), prompt, reference: sampleReference(spec, rng) };
}

export interface SuiteOptions {
  seed: number;
  /** Instances per task. */
  n: number;
  /** Which tasks, in this order (default: all, in TASK_NAMES order). */
  tasks?: readonly TaskName[];
}

/**
 * `n` instances of each task, deterministic for a seed. Each task draws from its own stream
 * (seeded from the seed and the task name), so choosing a subset of tasks or a larger n leaves
 * the other instances unchanged: instance i of a task is the same in every suite with that seed.
 * Ids are `<task>-<seed>-<i>`.
 */
export function generateSuite(options: SuiteOptions): TaskInstance[] {
  const { seed, n } = options;
  const tasks = options.tasks ?? TASK_NAMES;
  if (!Number.isSafeInteger(seed)) throw new OptionError(`generateSuite: seed ${seed} is not a safe integer`);
  if (!Number.isInteger(n) || n < 0) throw new OptionError(`generateSuite: n ${n} is not a non-negative integer`);
  for (const task of tasks) {
    if (!isTaskName(task)) throw new OptionError(`generateSuite: unknown task ${JSON.stringify(task)}`);
  }
  if (new Set(tasks).size !== tasks.length) {
    throw new OptionError(`generateSuite: tasks ${JSON.stringify(tasks)} name a task twice`);
  }
  const out: TaskInstance[] = [];
  for (const task of tasks) {
    const rng = new Rng(seedFrom(seed, task));
    for (let i = 0; i < n; i++) out.push(generateInstance(task, rng, `${task}-${seed}-${i}`));
  }
  return out;
}

function quote(prompt: string): string {
  const q = JSON.stringify(prompt);
  return q.length > 120 ? `${q.slice(0, 117)}..."` : q;
}

const LIST_RE = /^(copy|sort|reverse|shuffle|remove_random): (\[[^\n]*\])$/;
const INDEX_WORD_RE = /^(insert_index|replace_index) (\d+) "([^"\n]*)": (\[[^\n]*\])$/;
const WORD_RE = /^(insert_random|replace_random) "([^"\n]*)": (\[[^\n]*\])$/;
const REMOVE_INDEX_RE = /^remove_index (\d+): (\[[^\n]*\])$/;
const LATIN_RE = /^latin_square \[([^\n]*)\]:$/;
const SUDOKU_RE = /^sudoku:\n([0-4]{4})\n([0-4]{4})\n([0-4]{4})\n([0-4]{4})$/;

/** The largest latin_square accepted from text (the generator makes 4). */
const MAX_LATIN_SIZE = 8;

/**
 * The task and input of a prompt, from its text alone: throws InputError unless `prompt` (with
 * at most one trailing newline) is a prompt of the suite. Beyond the table's syntax it requires
 * what scoring needs to be meaningful: distinct list items, each free of `"`, `,`, `[`, `]`,
 * newlines and edge spaces; a word not in the list; an index in range; distinct symbols;
 * a sudoku with exactly one solution. The blank count and list length are not restricted.
 */
export function parseSpec(prompt: string): TaskSpec {
  const text = normalizePrompt(prompt);
  // A function declaration (not an arrow) so that TypeScript treats calls as ending the branch.
  function fail(why: string): never {
    throw new InputError(`parsePrompt: ${why} in prompt ${quote(prompt)}`);
  }
  const list = (raw: string): string[] => {
    const items = parseListExact(raw);
    if (items === null) {
      return fail(`the list is not written as ["First Last", ...] with non-empty items free of '"', ',', '[', ']', newlines and edge spaces`);
    }
    if (new Set(items).size !== items.length) fail('the list repeats an item');
    return items;
  };
  const index = (raw: string, max: number): number => {
    const value = Number(raw);
    if (!/^(0|[1-9]\d*)$/.test(raw) || value > max) fail(`index ${raw} is not an integer in 0..${max}`);
    return value;
  };
  const word = (raw: string, items: readonly string[]): string => {
    if (!isValidListItem(raw)) fail(`word ${JSON.stringify(raw)} is not a valid list item`);
    if (items.includes(raw)) fail(`word ${JSON.stringify(raw)} is already in the list`);
    return raw;
  };

  let spec: TaskSpec;
  let m: RegExpExecArray | null;
  if ((m = LIST_RE.exec(text)) !== null) {
    const task = m[1] as 'copy' | 'sort' | 'reverse' | 'shuffle' | 'remove_random';
    const items = list(m[2] as string);
    if (task === 'shuffle' && items.length < 2) fail('a shuffle needs at least 2 items');
    spec = { task, input: { items } };
  } else if ((m = INDEX_WORD_RE.exec(text)) !== null) {
    const task = m[1] as 'insert_index' | 'replace_index';
    const items = list(m[4] as string);
    const at = index(m[2] as string, task === 'insert_index' ? items.length : items.length - 1);
    spec = { task, input: { items, index: at, word: word(m[3] as string, items) } };
  } else if ((m = WORD_RE.exec(text)) !== null) {
    const task = m[1] as 'insert_random' | 'replace_random';
    const items = list(m[3] as string);
    spec = { task, input: { items, word: word(m[2] as string, items) } };
  } else if ((m = REMOVE_INDEX_RE.exec(text)) !== null) {
    const items = list(m[2] as string);
    spec = { task: 'remove_index', input: { items, index: index(m[1] as string, items.length - 1) } };
  } else if ((m = LATIN_RE.exec(text)) !== null) {
    const symbols = (m[1] as string).split(', ');
    if (symbols.length > MAX_LATIN_SIZE) fail(`more than ${MAX_LATIN_SIZE} symbols`);
    if (!symbols.every((s) => /^[^\s,[\]"]+$/u.test(s))) fail('a symbol is empty or holds a space, comma, bracket or quote');
    if (new Set(symbols).size !== symbols.length) fail('the symbols repeat');
    spec = { task: 'latin_square', input: { symbols } };
  } else if ((m = SUDOKU_RE.exec(text)) !== null) {
    const puzzle = m.slice(1, 1 + SUDOKU_SIZE).flatMap((row) => [...row].map(Number));
    // Sudoku rules first; a grid that breaks the box rule can still be a valid Latin puzzle.
    let solutions = solveSudoku(puzzle, { boxes: true });
    if (solutions.length === 0) solutions = solveSudoku(puzzle, { boxes: false });
    if (solutions.length !== 1) fail(solutions.length === 0 ? 'the sudoku has no solution' : 'the sudoku has several solutions');
    spec = { task: 'sudoku', input: { puzzle, solution: solutions[0] as number[] } };
  } else {
    const head = /^[a-z_]+/.exec(text)?.[0] ?? '';
    return fail(isTaskName(head) ? `malformed ${head} prompt` : 'no task of the suite');
  }
  // Anything accepted must be exactly what the spec writes (e.g. no index "03").
  if (formatPrompt(spec) !== text) fail('non-canonical formatting');
  return spec;
}

/**
 * A full instance from a prompt string alone (see `parseSpec` for what is accepted). Its id is a
 * hash of the prompt; its reference for C(Y|X) > 0 tasks is a valid answer drawn with a generator
 * seeded from the prompt, so the same prompt always gets the same reference.
 */
export function parsePrompt(prompt: string): TaskInstance {
  const spec = parseSpec(prompt);
  const text = normalizePrompt(prompt);
  const reference = sampleReference(spec, new Rng(seedFrom('reference', text)));
  return { ...spec, id: contentId(spec.task, text), prompt: text, reference };
}

/** 1 if `prediction` (the model's answer text) is correct for the instance, by the spec's metric. */
export function scoreAnswer(instance: TaskSpec, prediction: string): 0 | 1 {
  switch (instance.task) {
    case 'copy':
    case 'sort':
    case 'reverse':
    case 'insert_index':
    case 'remove_index':
    case 'replace_index':
      return scoreListMatch(expectedList(instance), prediction);
    case 'shuffle':
      return scoreShuffle(instance.input.items, prediction);
    case 'insert_random':
      return scoreRandomInsert(instance.input.items, instance.input.word, prediction);
    case 'remove_random':
      return scoreRandomRemove(instance.input.items, prediction);
    case 'replace_random':
      return scoreRandomReplace(instance.input.items, instance.input.word, prediction);
    case 'latin_square':
      return scoreLatinSquare(instance.input.symbols, prediction);
    case 'sudoku':
      return scoreSudoku(instance.input.solution, prediction);
  }
}

/** One scored prediction: 0 or 1 (or a fraction, e.g. a mean over samples). */
export interface ScoredResult {
  readonly task: TaskName;
  readonly score: number;
}

export interface TaskScore {
  /** Mean score × 100. */
  readonly score: number;
  /** Number of instances. */
  readonly n: number;
}

export interface SuiteScore {
  /** Only the tasks that have results. */
  readonly perTask: Partial<Record<TaskName, TaskScore>>;
  /** Mean of the task scores (each task weighs the same whatever its n); null if no results. */
  readonly suite: number | null;
  /** Mean of the task scores of the ZERO_ENTROPY_TASKS present; null if none. */
  readonly zeroEntropy: number | null;
  /** Mean of the task scores of the other tasks present; null if none. */
  readonly otherEntropy: number | null;
}

function mean(xs: readonly number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The spec's aggregation: per task the mean × 100, then the unweighted mean over tasks. */
export function scoreSuite(results: Iterable<ScoredResult>): SuiteScore {
  const sums = new Map<TaskName, { sum: number; n: number }>();
  for (const { task, score } of results) {
    if (!isTaskName(task)) throw new InputError(`scoreSuite: unknown task ${JSON.stringify(task)}`);
    if (!(Number.isFinite(score) && score >= 0 && score <= 1)) {
      throw new InputError(`scoreSuite: score ${score} of a ${task} result is not in [0, 1]`);
    }
    const acc = sums.get(task) ?? { sum: 0, n: 0 };
    acc.sum += score;
    acc.n += 1;
    sums.set(task, acc);
  }
  const perTask: Partial<Record<TaskName, TaskScore>> = {};
  for (const task of TASK_NAMES) {
    const acc = sums.get(task);
    if (acc !== undefined) perTask[task] = { score: (acc.sum / acc.n) * 100, n: acc.n };
  }
  const scoresOf = (keep: (task: TaskName) => boolean): number[] =>
    TASK_NAMES.filter((t) => keep(t) && perTask[t] !== undefined).map((t) => (perTask[t] as TaskScore).score);
  return {
    perTask,
    suite: mean(scoresOf(() => true)),
    zeroEntropy: mean(scoresOf(isZeroEntropy)),
    otherEntropy: mean(scoresOf((t) => !isZeroEntropy(t))),
  };
}
