/** The timeline's colours and sizes: no DOM here, so Node tests can check them. */

/** Colours of the display states (the legend reads the same table). */
export const COLOURS = {
  queued: "#b8bec9",
  running: "#2f6fdb",
  retried: "#e08a00",
  succeeded: "#1f9d55",
  failed: "#d33a2c",
} as const;
export type Shade = keyof typeof COLOURS;

/** Margins around the plot, in CSS pixels (task labels on the left, the time axis below). */
export const LEFT = 64;
export const RIGHT = 12;
export const TOP = 8;
export const BOTTOM = 26;

/** The plot height for n tasks: a few pixels a task when there are few, a fixed picture when there are many. */
export function plotHeight(n: number): number {
  return Math.max(60, Math.min(480, n * 14));
}

/** The colour a task is drawn in, from its state letter and its attempts. */
export function shadeOf(state: string, attempts: number): Shade {
  if (state === "f") return "failed";
  if (state === "s") return attempts > 1 ? "retried" : "succeeded";
  if (state === "r") return attempts > 1 ? "retried" : "running";
  return "queued";
}
