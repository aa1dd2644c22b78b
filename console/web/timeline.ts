import type { TimelineView } from "../views.ts";
import { BOTTOM, COLOURS, LEFT, plotHeight, RIGHT, type Shade, shadeOf, TOP } from "./layout.ts";

export { COLOURS, type Shade } from "./layout.ts";

function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/**
 * Draws one mark per task: a bar from when it started to when it ended (to now while it runs), one row per
 * task top to bottom by index, coloured by state; a queued task is a grey bar from the start of the run to
 * now (it has been waiting that long); a task that needed more than one attempt is orange, with a tick where
 * it finally ended. With more tasks than pixel rows, rows share pixels and the later state wins. Tasks with
 * no times (their job is gone) fill their row. Draws in one pass per colour, so 10,000 tasks take a few ms.
 */
export function drawTimeline(canvas: HTMLCanvasElement, t: TimelineView): void {
  const n = t.states.length;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 900;
  const height = plotHeight(n) + TOP + BOTTOM;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const plotW = width - LEFT - RIGHT;
  const plotH = plotHeight(n);
  const nowAt = t.origin === null ? 0 : Math.max(0, t.now - t.origin);
  // While anything waits or runs the picture reaches now; once all ended, it ends with the last task.
  let span = /[qr]/.test(t.states) ? nowAt : 0;
  for (let i = 0; i < n; i++) span = Math.max(span, t.end[i] ?? -1, t.start[i] ?? -1);
  if (span <= 0) span = 1000;
  const x = (ms: number) => LEFT + (Math.max(0, ms) / span) * plotW;
  const rowH = plotH / Math.max(1, n);
  const barH = Math.max(1, rowH > 3 ? rowH - 1 : rowH);

  // Axes and labels.
  ctx.fillStyle = "#5b6474";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.fillText("task 0", 4, TOP);
  if (n > 1) {
    ctx.textBaseline = "bottom";
    ctx.fillText(`task ${n - 1}`, 4, TOP + plotH);
  }
  ctx.textBaseline = "top";
  ctx.strokeStyle = "#d9dde4";
  ctx.beginPath();
  for (let k = 0; k <= 4; k++) {
    const px = Math.round(LEFT + (k / 4) * plotW) + 0.5;
    ctx.moveTo(px, TOP);
    ctx.lineTo(px, TOP + plotH);
    const label = seconds((k / 4) * span);
    const w = ctx.measureText(label).width;
    ctx.fillText(label, Math.min(px - w / 2, width - w - 2), TOP + plotH + 6);
  }
  ctx.stroke();

  // One path per colour: fillRect per task, batched by fillStyle.
  const order: Shade[] = ["queued", "running", "succeeded", "retried", "failed"];
  const ticks: number[] = [];
  for (const shade of order) {
    ctx.fillStyle = COLOURS[shade];
    for (let i = 0; i < n; i++) {
      const attempts = t.attempts[i] ?? 0;
      const state = t.states[i] ?? "q";
      if (shadeOf(state, attempts) !== shade) continue;
      const y = TOP + i * rowH;
      const start = t.start[i] ?? -1;
      const end = t.end[i] ?? -1;
      let from: number;
      let to: number;
      if (state === "q") {
        from = 0;
        to = nowAt;
      } else if (start < 0) {
        // No times (the job is gone): the whole row in the task's final colour.
        from = 0;
        to = span;
      } else {
        from = start;
        to = end >= 0 ? end : nowAt;
      }
      const x0 = x(from);
      ctx.fillRect(x0, y, Math.max(2, x(to) - x0), barH);
      if (shade === "retried" && end >= 0) ticks.push(i);
    }
  }
  ctx.fillStyle = "#1d2330";
  for (const i of ticks) ctx.fillRect(x(t.end[i] ?? 0) - 1, TOP + i * rowH, 2, barH);
  if (t.origin !== null && t.states.includes("r")) {
    // Now, while anything runs.
    ctx.strokeStyle = "#1d2330";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x(nowAt) + 0.5, TOP);
    ctx.lineTo(x(nowAt) + 0.5, TOP + plotH);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

/** The task index under a point of the canvas (CSS pixels), or null outside the plot. */
export function taskAt(n: number, offsetX: number, offsetY: number): number | null {
  if (n === 0 || offsetX < LEFT || offsetY < TOP || offsetY >= TOP + plotHeight(n)) return null;
  return Math.min(n - 1, Math.floor(((offsetY - TOP) / plotHeight(n)) * n));
}
