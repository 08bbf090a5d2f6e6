/** The task suite as the trainer uses it (a thin adapter over src/tasks). */
import type { Rng } from '../tasks/rng.js';
import { generateInstance, isTaskName, scoreAnswer, TASK_NAMES, ZERO_ENTROPY_TASKS, type TaskInstance, type TaskName } from '../tasks/suite.js';

export interface SuiteInstance {
  task: string;
  /** as in the spec's table, without the trailing newline */
  prompt: string;
  /** one valid answer */
  answer: string;
  raw: TaskInstance;
}

export const SUITE_TASKS: readonly string[] = TASK_NAMES;
export const ZERO_ENTROPY: readonly string[] = ZERO_ENTROPY_TASKS;

export function checkTasks(tasks: readonly string[]): TaskName[] {
  for (const t of tasks) if (!isTaskName(t)) throw new Error(`unknown task ${JSON.stringify(t)} (tasks: ${TASK_NAMES.join(', ')})`);
  return tasks as TaskName[];
}

export function sampleInstance(task: string, rng: Rng): SuiteInstance {
  const raw = generateInstance(checkTasks([task])[0]!, rng);
  return { task: raw.task, prompt: raw.prompt, answer: raw.reference, raw };
}

export function scoreInstance(instance: SuiteInstance, prediction: string): number {
  return scoreAnswer(instance.raw, prediction);
}
