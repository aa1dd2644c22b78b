import {
  type BucketView,
  type ClientView,
  type InfoView,
  type LogsView,
  MAX_UPLOAD_BYTES,
  type MessagesView,
  type PreviewView,
  type RunsView,
  type RunView,
} from "../views.ts";
import { COLOURS, drawTimeline, type Shade, taskAt } from "./timeline.ts";

/** The console page: one script renders the page its address names, and keeps it live over server-sent events. */

type Child = Node | string | null | undefined | false;

/** An element with attributes and children; text is always set as text, never parsed as HTML. */
function h(
  tag: string,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const main = document.getElementById("main") as HTMLElement;
const problem = document.getElementById("problem") as HTMLElement;

function showProblem(text: string | null): void {
  problem.hidden = text === null;
  problem.textContent = text ?? "";
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

async function action<T>(path: string, body?: BodyInit, type = "application/json"): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    headers: { "x-batchline-console": "1", "content-type": type },
    ...(body === undefined ? {} : { body }),
  });
  const answer = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(answer.error ?? `${res.status} ${res.statusText}`);
  return answer;
}

const liveLabel = document.getElementById("live") as HTMLElement;
const streams = new Set<EventSource>();

/** Calls `render` with the view at `path` now and each time it changes, until the page goes. */
function live<T>(path: string, render: (view: T) => void): EventSource {
  const source = new EventSource(`/api/live?path=${encodeURIComponent(path)}`);
  streams.add(source);
  source.addEventListener("view", (e) => {
    showProblem(null);
    liveLabel.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    render(JSON.parse((e as MessageEvent<string>).data) as T);
  });
  source.addEventListener("problem", (e) => {
    showProblem((JSON.parse((e as MessageEvent<string>).data) as { error: string }).error);
  });
  source.onerror = () => {
    liveLabel.textContent = "reconnecting…";
  };
  return source;
}

function time(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function badge(status: string): HTMLElement {
  return h("span", { class: `badge ${status}` }, status);
}

function runLink(client: string, runId: string): HTMLElement {
  return h(
    "a",
    { class: "run-id", href: `/runs/${encodeURIComponent(client)}/${encodeURIComponent(runId)}` },
    runId,
  );
}

/** Replaces `el`'s children only when the view it renders changed, so focus and scroll stay put. */
function keep(el: HTMLElement, key: unknown, build: () => Child[]): void {
  const text = JSON.stringify(key);
  if (el.dataset.key === text) return;
  el.dataset.key = text;
  el.replaceChildren(
    ...(build().filter((c) => c !== null && c !== undefined && c !== false) as (Node | string)[]),
  );
}

let info: InfoView;

// ---- actions (local cloud) ----

/** Upload (drag and drop, or a file input for keyboard users) and manual run, for one client at a time. */
function actionsPanel(clients: string[], fixed?: string): HTMLElement {
  if (!info.local) {
    return h(
      "p",
      { class: "muted" },
      "Uploads, runs and retries are not available here: this console is read-only.",
    );
  }
  const say = h("p", { class: "status-line", role: "status", "aria-live": "polite" });
  const select = h(
    "select",
    { id: "upload-client", "aria-label": "Client" },
    ...clients.map((c) => h("option", { value: c }, c)),
  ) as HTMLSelectElement;
  if (fixed) select.value = fixed;
  const client = () => select.value;
  const upload = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      if (file.size > MAX_UPLOAD_BYTES) {
        say.textContent = `${file.name} is ${file.size} bytes; the console uploads files up to ${MAX_UPLOAD_BYTES} bytes (use batchline local upload)`;
        continue;
      }
      say.textContent = `uploading ${file.name}…`;
      try {
        const r = await action<{ object: string; generation: string }>(
          `/api/clients/${encodeURIComponent(client())}/upload?path=${encodeURIComponent(file.name)}`,
          file,
          "application/octet-stream",
        );
        say.textContent = `uploaded gs://${info.bucket}/${r.object} (generation ${r.generation})`;
      } catch (err) {
        say.textContent = `upload of ${file.name} failed: ${(err as Error).message}`;
      }
    }
  };
  const input = h("input", { type: "file", id: "upload-file", multiple: true }) as HTMLInputElement;
  input.addEventListener("change", () => {
    if (input.files) void upload(input.files).then(() => (input.value = ""));
  });
  const drop = h(
    "div",
    { class: "drop", id: "drop" },
    h("p", {}, "Drop files here to upload them to the client's inputs, or "),
    h("label", { for: "upload-file" }, "choose files: "),
    input,
  );
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files) void upload(e.dataTransfer.files);
  });
  const run = h("button", { type: "button", id: "start-run" }, "Start a manual run") as HTMLButtonElement;
  run.addEventListener("click", async () => {
    run.disabled = true;
    try {
      const r = await action<{ runId: string; execution: string }>(
        `/api/clients/${encodeURIComponent(client())}/run`,
      );
      say.replaceChildren("started run ", runLink(client(), r.runId));
    } catch (err) {
      say.textContent = `could not start a run: ${(err as Error).message}`;
    } finally {
      run.disabled = false;
    }
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "actions-title" },
    h("h2", { id: "actions-title" }, "Upload and run"),
    h("div", { class: "row" }, h("label", { for: "upload-client" }, "Client"), select, run),
    drop,
    say,
  );
}

// ---- pages ----

function runsPage(): void {
  document.title = "Runs · Batchline";
  const table = h("div", { id: "runs" });
  main.replaceChildren(h("h1", {}, "Runs"), actionsPanel(info.clients), table);
  live<RunsView>("/api/runs", (v) =>
    keep(table, v, () => {
      if (v.runs.length === 0)
        return [h("p", { class: "muted" }, "No runs yet. Upload an input to start one.")];
      const skipped = Object.entries(v.nothingToDo).filter(([, n]) => n > 0);
      return [
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Client", "Run", "Trigger", "Started", "Inputs", "Status", "Detail"].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            ...v.runs.map((r) =>
              h(
                "tr",
                { "data-run": r.runId },
                h("td", {}, r.client),
                h("td", {}, runLink(r.client, r.runId)),
                h("td", {}, r.trigger),
                h("td", {}, time(r.plannedAt ?? r.startedAt)),
                h("td", { class: "num" }, r.inputs === null ? "–" : String(r.inputs)),
                h("td", {}, badge(r.status)),
                h("td", {}, r.error ? `${r.detail} — ${r.error}` : r.detail),
              ),
            ),
          ),
        ),
        skipped.length > 0
          ? h(
              "p",
              { class: "muted" },
              `Executions with nothing to do (not runs): ${skipped.map(([c, n]) => `${c} ${n}`).join(", ")}`,
            )
          : null,
      ];
    }),
  );
}

function clientsPage(): void {
  document.title = "Clients · Batchline";
  const list = h("div", { class: "cards", id: "clients" });
  main.replaceChildren(h("h1", {}, "Clients"), list);
  live<ClientView[]>("/api/clients", (clients) =>
    keep(list, clients, () =>
      clients.map((c) =>
        h(
          "section",
          { class: "panel", "aria-labelledby": `client-${c.id}` },
          h("h2", { id: `client-${c.id}` }, c.displayName ? `${c.displayName} (${c.id})` : c.id),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Schedule"),
            h(
              "dd",
              {},
              c.schedule
                ? `${c.schedule.cron} (${c.schedule.timeZone}, ${c.schedule.mode}); next ${time(c.schedule.nextRun)}`
                : "none",
            ),
            h("dt", {}, "Last run"),
            h(
              "dd",
              {},
              ...(c.lastRun
                ? [
                    runLink(c.id, c.lastRun.runId),
                    " ",
                    badge(c.lastRun.status),
                    ` ${time(c.lastRun.plannedAt ?? c.lastRun.startedAt)}`,
                  ]
                : ["none"]),
            ),
            h("dt", {}, "Inputs"),
            h(
              "dd",
              {},
              Object.keys(c.inputs).length === 0
                ? "none"
                : Object.entries(c.inputs)
                    .map(([s, n]) => `${n} ${s}`)
                    .join(", "),
            ),
            h("dt", {}, "Pending"),
            h("dd", { "data-pending": c.id }, String((c.inputs.pending ?? 0) + (c.inputs.failed ?? 0))),
            h("dt", {}, "Topic"),
            h(
              "dd",
              {},
              info.local ? h("a", { href: `/messages/${encodeURIComponent(c.id)}` }, c.topic) : c.topic,
            ),
          ),
          h("details", {}, h("summary", {}, "Config"), h("pre", {}, JSON.stringify(c.config, null, 2))),
        ),
      ),
    ),
  );
  if (info.local) main.append(actionsPanel(info.clients));
}

/** A preview of an object in the bucket, opened in place by a button. */
function previewButton(object: string | null, label: string): HTMLElement | null {
  if (!object) return null;
  const out = h("div");
  const button = h("button", { type: "button", "aria-expanded": "false" }, label) as HTMLButtonElement;
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-expanded") === "true") {
      out.replaceChildren();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    button.setAttribute("aria-expanded", "true");
    try {
      const p = await getJson<PreviewView>(`/api/preview?object=${encodeURIComponent(object)}`);
      out.replaceChildren(
        h(
          "div",
          { class: "muted" },
          `${p.object} · ${p.size} bytes${p.truncated ? ` (first ${p.text.length} shown)` : ""}`,
        ),
        h("pre", { class: "preview" }, p.text),
      );
    } catch (err) {
      out.replaceChildren(h("p", { class: "muted" }, (err as Error).message));
    }
  });
  return h("div", {}, button, out);
}

const SHADES: Shade[] = ["queued", "running", "retried", "succeeded", "failed"];

function runPage(client: string, runId: string): void {
  document.title = `${runId} · Batchline`;
  const head = h("div", { id: "run-head" });
  const legend = h("ul", { class: "legend", id: "legend" });
  const canvas = h("canvas", {
    class: "timeline",
    id: "timeline",
    role: "img",
    "aria-label": "Timeline of the run's tasks",
  }) as HTMLCanvasElement;
  const message = h("div", { id: "message" });
  const inputs = h("div", { id: "inputs" });
  const logsOut = h("pre", { class: "log", id: "logs", "aria-live": "off" }, "…");
  const taskField = h("input", {
    id: "log-task",
    type: "number",
    min: "0",
    inputmode: "numeric",
    placeholder: "all",
  }) as HTMLInputElement;
  let view: RunView | null = null;
  let logs: EventSource | null = null;
  const followLogs = () => {
    logs?.close();
    if (logs) streams.delete(logs);
    const task = taskField.value.trim();
    const path = `/api/logs/${encodeURIComponent(client)}/${encodeURIComponent(runId)}${task === "" ? "" : `?task=${task}`}`;
    logs = live<LogsView>(path, (l) => {
      const atEnd = logsOut.scrollTop + logsOut.clientHeight >= logsOut.scrollHeight - 4;
      logsOut.textContent =
        l.note ??
        (l.lines.length === 0
          ? "no log lines yet"
          : (l.truncated ? "(older lines left out)\n" : "") +
            l.lines
              .map(
                (x) =>
                  `task ${x.task ?? "?"}.${x.attempt ?? "?"} ${x.timestamp ?? ""} ${x.severity} ${x.message}`,
              )
              .join("\n"));
      if (atEnd) logsOut.scrollTop = logsOut.scrollHeight;
    });
  };
  taskField.addEventListener("change", followLogs);
  canvas.addEventListener("click", (e) => {
    const i = taskAt(view?.timeline.states.length ?? 0, e.offsetX, e.offsetY);
    if (i === null) return;
    taskField.value = String(i);
    followLogs();
  });
  main.replaceChildren(
    h("p", {}, h("a", { href: "/runs" }, "← Runs")),
    h("h1", {}, `Run ${runId}`),
    head,
    h("h2", {}, "Tasks"),
    legend,
    canvas,
    h(
      "p",
      { class: "muted" },
      "One bar per task, top to bottom by index, from when it started to when it ended. Click a bar to see its logs.",
    ),
    h("h2", {}, "Message"),
    message,
    h("h2", {}, "Inputs and outputs"),
    inputs,
    h("h2", {}, "Task logs"),
    h("div", { class: "row" }, h("label", { for: "log-task" }, "Task (empty for all)"), taskField),
    logsOut,
  );
  let drawn = false;
  const draw = () => {
    if (!view) return;
    const t0 = performance.now();
    drawTimeline(canvas, view.timeline);
    canvas.dataset.drawMs = (performance.now() - t0).toFixed(2);
    canvas.dataset.draws = String(Number(canvas.dataset.draws ?? "0") + 1);
    if (!drawn) {
      drawn = true;
      // The figure the scale test and bench/console.ts read: from navigation start to the first picture.
      performance.mark("timeline-drawn");
    }
  };
  window.addEventListener("resize", draw);
  live<RunView>(`/api/runs/${encodeURIComponent(client)}/${encodeURIComponent(runId)}`, (v) => {
    view = v;
    draw();
    canvas.setAttribute(
      "aria-label",
      `Timeline of ${v.timeline.states.length} tasks: ${SHADES.map((s) => `${v.counts[s]} ${s}`).join(", ")}`,
    );
    keep(legend, v.counts, () =>
      SHADES.map((s) =>
        h(
          "li",
          { "data-shade": s },
          h("span", { class: "swatch", "data-colour": COLOURS[s] }),
          `${s} `,
          h("strong", {}, String(v.counts[s])),
        ),
      ),
    );
    for (const sw of legend.querySelectorAll<HTMLElement>(".swatch"))
      sw.style.background = sw.dataset.colour ?? "";
    keep(head, [v.status, v.failure, v.execution, v.job, v.trigger, v.plannedAt, v.note], () => [
      v.note ? h("p", { class: "note", id: "run-note" }, v.note) : null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"),
        h("dd", { id: "run-status" }, badge(v.status)),
        v.failure ? h("dt", {}, "Failure") : null,
        v.failure ? h("dd", {}, v.failure) : null,
        h("dt", {}, "Client"),
        h("dd", {}, client),
        h("dt", {}, "Trigger"),
        h("dd", {}, v.trigger ?? "–"),
        h("dt", {}, "Planned"),
        h("dd", {}, time(v.plannedAt)),
        h("dt", {}, "Execution"),
        h(
          "dd",
          {},
          v.execution
            ? `${v.execution.state}${v.execution.currentStep && v.execution.state === "ACTIVE" ? ` at ${v.execution.currentStep}` : ""} · ${v.execution.name}`
            : "unknown",
        ),
        h("dt", {}, "Batch job"),
        h("dd", {}, v.job ? `${v.job.state} · ${v.job.name}` : "none (not created yet, or deleted)"),
      ),
    ]);
    keep(message, v.message, () =>
      v.message
        ? [
            h(
              "details",
              { id: "message-details" },
              h(
                "summary",
                {},
                `The message the client received (${String((v.message.body as { status?: unknown }).status ?? "")}, id ${v.message.messageId ?? "unknown"})`,
              ),
              h("h3", {}, "Attributes"),
              h("pre", { id: "message-attributes" }, JSON.stringify(v.message.attributes, null, 2)),
              h("h3", {}, "Body"),
              h("pre", { id: "message-body" }, JSON.stringify(v.message.body, null, 2)),
            ),
          ]
        : [
            h(
              "p",
              { class: "muted" },
              v.live
                ? "Not yet: the message is published when the run ends."
                : "No message recorded for this run.",
            ),
          ],
    );
    keep(inputs, [v.inputs, v.rejected, v.inputCount], () => [
      v.inputs.length === 0
        ? h(
            "p",
            { class: "muted" },
            v.inputCount > 0
              ? `${v.inputCount} inputs; none recorded to show yet.`
              : "No inputs recorded yet.",
          )
        : null,
      v.inputs.length > 0
        ? h(
            "table",
            {},
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ...["Task", "Input", "Status", "Records", "Bad", "Output", "Bad records", ""].map((t) =>
                  h("th", { scope: "col" }, t),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              ...v.inputs.map((i) =>
                h(
                  "tr",
                  { "data-input": i.object },
                  h("td", { class: "num" }, String(i.index)),
                  h("td", {}, h("code", {}, i.object), previewButton(i.object, "Preview input")),
                  h("td", {}, badge(i.status), i.reason ? h("div", { class: "muted" }, i.reason) : null),
                  h("td", { class: "num" }, i.records === null ? "–" : String(i.records)),
                  h("td", { class: "num" }, i.badRecords === null ? "–" : String(i.badRecords)),
                  h(
                    "td",
                    {},
                    h("code", {}, i.output),
                    i.status === "SUCCEEDED" ? previewButton(i.output, "Preview output") : null,
                  ),
                  h(
                    "td",
                    {},
                    (i.badRecords ?? 0) > 0 ? previewButton(i.errors, "Preview bad records") : null,
                  ),
                  h("td", {}, i.status === "FAILED" && info.local ? retryButton(client, i.object) : null),
                ),
              ),
            ),
          )
        : null,
      v.inputs.length > 0 && v.inputCount > v.inputs.length
        ? h(
            "p",
            { class: "muted" },
            `${v.inputs.length} of ${v.inputCount} inputs shown (failed and those with bad records first).`,
          )
        : null,
      v.rejected.length > 0
        ? h(
            "ul",
            {},
            ...v.rejected.map((r) => h("li", {}, `refused ${r.object}#${r.generation}: ${r.reason}`)),
          )
        : null,
    ]);
    if (!logs && (v.job || !v.live)) followLogs();
  });
}

function retryButton(client: string, object: string): HTMLElement {
  const say = h("span", { role: "status" });
  const button = h("button", { type: "button" }, "Retry") as HTMLButtonElement;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const r = await action<{ result: string; reason: string }>(
        `/api/clients/${encodeURIComponent(client)}/retry`,
        JSON.stringify({ input: object }),
      );
      say.textContent = ` ${r.result}: ${r.reason}. Start a run to process it.`;
    } catch (err) {
      say.textContent = ` ${(err as Error).message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h("span", {}, button, say);
}

async function bucketPage(): Promise<void> {
  document.title = "Bucket · Batchline";
  const prefix = new URLSearchParams(location.search).get("prefix") ?? "";
  const v = await getJson<BucketView>(`/api/bucket?prefix=${encodeURIComponent(prefix)}`);
  const up = prefix.replace(/[^/]*\/$/, "");
  keep(main, v, () => [
    h("h1", {}, `gs://${v.bucket}/${prefix}`),
    prefix ? h("p", {}, h("a", { href: `/bucket?prefix=${encodeURIComponent(up)}` }, "↑ Up")) : null,
    h(
      "table",
      { id: "bucket" },
      h(
        "thead",
        {},
        h("tr", {}, ...["Name", "Size", "Updated", ""].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        ...v.prefixes.map((p) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: `/bucket?prefix=${encodeURIComponent(p)}` }, p.slice(prefix.length))),
            h("td", {}),
            h("td", {}),
            h("td", {}),
          ),
        ),
        ...v.objects.map((o) =>
          h(
            "tr",
            {},
            h("td", {}, h("code", {}, o.name.slice(prefix.length))),
            h("td", { class: "num" }, String(o.size)),
            h("td", {}, time(o.updated)),
            h("td", {}, previewButton(o.name, "Preview")),
          ),
        ),
      ),
    ),
    v.objects.length + v.prefixes.length === 0 ? h("p", { class: "muted" }, "Nothing here.") : null,
    v.truncated ? h("p", { class: "muted" }, "The first 500 entries are shown.") : null,
  ]);
}

function messagesPage(client: string | null): void {
  const chosen = client ?? info.clients[0] ?? "";
  document.title = `Messages of ${chosen} · Batchline`;
  const list = h("div", { id: "messages" });
  main.replaceChildren(
    h("h1", {}, "Messages"),
    h(
      "nav",
      { class: "row", "aria-label": "Clients" },
      ...info.clients.map((c) =>
        h(
          "a",
          { href: `/messages/${encodeURIComponent(c)}`, "aria-current": c === chosen ? "page" : undefined },
          c,
        ),
      ),
    ),
    list,
  );
  live<MessagesView>(`/api/messages/${encodeURIComponent(chosen)}`, (v) =>
    keep(list, v, () => [
      h("p", { class: "muted" }, `Topic ${v.topic}: the newest messages, read through ${v.source}.`),
      v.gap ? h("p", { class: "note", role: "status" }, v.gap) : null,
      v.messages.length === 0 ? h("p", { class: "muted" }, "No messages since the console started.") : null,
      ...v.messages.map((m) =>
        h(
          "section",
          { class: "panel" },
          h(
            "div",
            {},
            h("strong", {}, `message ${m.messageId}`),
            ` · ${time(m.publishTime)} · `,
            m.attributes.runId ? runLink(v.client, m.attributes.runId) : null,
          ),
          h("pre", {}, JSON.stringify(m.attributes, null, 2)),
          h(
            "pre",
            {},
            (() => {
              try {
                return JSON.stringify(JSON.parse(m.data), null, 2);
              } catch {
                return m.data;
              }
            })(),
          ),
        ),
      ),
    ]),
  );
}

async function start(): Promise<void> {
  try {
    info = await getJson<InfoView>("/api/info");
  } catch (err) {
    showProblem(`The console server does not answer: ${(err as Error).message}`);
    return;
  }
  (document.getElementById("target") as HTMLElement).textContent = info.target;
  const note = document.getElementById("note") as HTMLElement;
  if (info.note) {
    note.hidden = false;
    note.textContent = info.note;
  }
  for (const a of document.querySelectorAll<HTMLElement>("[data-local]")) a.hidden = !info.local;
  const path = location.pathname;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    if (
      path === a.pathname ||
      (a.pathname === "/runs" && (path === "/" || path.startsWith("/runs/"))) ||
      (a.pathname === "/messages" && path.startsWith("/messages"))
    ) {
      a.setAttribute("aria-current", "page");
    }
  }
  const run = /^\/runs\/([^/]+)\/([^/]+)$/.exec(path);
  const messages = /^\/messages(?:\/([^/]+))?$/.exec(path);
  try {
    if (run) runPage(decodeURIComponent(run[1] ?? ""), decodeURIComponent(run[2] ?? ""));
    else if (path === "/clients") clientsPage();
    else if (path === "/bucket") await bucketPage();
    else if (messages) messagesPage(messages[1] ? decodeURIComponent(messages[1]) : null);
    else runsPage();
  } catch (err) {
    showProblem((err as Error).message);
  }
}

window.addEventListener("pagehide", () => {
  for (const s of streams) s.close();
});
void start();
