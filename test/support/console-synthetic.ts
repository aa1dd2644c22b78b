import { ConsoleProblem, type ConsoleSource, countsOf } from "../../console/source.ts";
import type { RunView, TimelineView } from "../../console/views.ts";

export const SYNTHETIC_CLIENT = "synthetic";
export const SYNTHETIC_RUN = "ev-5e5e5e5e5e5e5e5e";

/**
 * A run of `tasks` tasks that moves on as time passes, for the console's scale test and bench/console.ts:
 * `parallelism` tasks run at once for `taskMs` each; every 97th task fails, every 53rd needs a second attempt.
 * Only the run and runs views answer; the page's other views are not needed to draw a run.
 */
export function syntheticSource(options: {
  tasks: number;
  parallelism?: number;
  taskMs?: number;
  /** How long ago the run started (default 0: it starts now). */
  ageMs?: number;
}): ConsoleSource {
  const { tasks } = options;
  const parallelism = options.parallelism ?? 500;
  const taskMs = options.taskMs ?? 1500;
  const origin = Date.now() - (options.ageMs ?? 0);
  const timeline = (now: number): TimelineView => {
    const elapsed = now - origin;
    let states = "";
    const attempts: number[] = [];
    const start: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < tasks; i++) {
      const retried = i % 53 === 0;
      const from = Math.floor(i / parallelism) * taskMs;
      const to = from + taskMs * (retried ? 2 : 1);
      if (elapsed < from) {
        states += "q";
        attempts.push(0);
        start.push(-1);
        end.push(-1);
      } else if (elapsed < to) {
        states += "r";
        attempts.push(retried && elapsed >= from + taskMs ? 2 : 1);
        start.push(from);
        end.push(-1);
      } else {
        states += i % 97 === 0 ? "f" : "s";
        attempts.push(retried ? 2 : 1);
        start.push(from);
        end.push(to);
      }
    }
    return { origin, now, states, attempts, start, end };
  };
  const none = async (): Promise<never> => {
    throw new ConsoleProblem(404, "the synthetic run has only a run page");
  };
  return {
    info: () => ({
      target: `a synthetic run of ${tasks} tasks`,
      readOnly: true,
      local: false,
      bucket: "synthetic",
      clients: [SYNTHETIC_CLIENT],
      note: null,
    }),
    clients: async () => [],
    runs: async () => ({ runs: [], nothingToDo: {} }),
    async run(client, runId): Promise<RunView> {
      if (client !== SYNTHETIC_CLIENT || runId !== SYNTHETIC_RUN)
        throw new ConsoleProblem(404, "no such run");
      const t = timeline(Date.now());
      const counts = countsOf(t);
      const live = counts.queued + counts.running > 0;
      return {
        client,
        runId,
        status: live ? "RUNNING" : counts.failed > 0 ? "FAILED" : "SUCCEEDED",
        failure: null,
        trigger: "event",
        plannedAt: new Date(origin).toISOString(),
        execution: null,
        job: { name: `jobs/${runId}`, state: live ? "RUNNING" : "FAILED" },
        timeline: t,
        counts,
        inputs: [],
        inputCount: tasks,
        rejected: [],
        message: null,
        live,
        note: null,
      };
    },
    logs: async () => ({ lines: [], truncated: false, note: "a synthetic run has no logs" }),
    preview: none,
    bucket: none,
    messages: none,
    upload: none,
    startRun: none,
    retry: none,
  };
}
