import { Writable } from "node:stream";
import { type Logger, type LoggerOptions, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/** pino level -> Cloud Logging severity. */
const SEVERITY: Record<string, string> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

export interface LoggerSettings {
  /** Which part is logging: `plan`, `notify`, `worker`, `gcs-emulator`, … (becomes a Cloud Logging label). */
  component: string;
  /** More labels for `logging.googleapis.com/labels`. */
  labels?: Record<string, string>;
  level?: string;
  /** `json` (Cloud Logging's structured format; the default) or `pretty` (for people at a terminal). */
  format?: "json" | "pretty";
  /** Where JSON lines go; defaults to stdout. Under vitest, stdout and stderr are routed through the console. */
  destination?: NodeJS.WritableStream;
}

/**
 * The one logger. In the cloud it writes one-line JSON that Cloud Logging reads (`severity`, `message`,
 * `time`, `logging.googleapis.com/labels`); the CLI asks for `pretty`, or BATCHLINE_LOG_FORMAT=pretty does.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const level = settings.level ?? process.env.BATCHLINE_LOG_LEVEL ?? "info";
  const format = settings.format ?? (process.env.BATCHLINE_LOG_FORMAT === "pretty" ? "pretty" : "json");
  const labels = { component: settings.component, ...settings.labels };
  if (format === "pretty") {
    const stream = pretty({
      colorize: Boolean((process.stderr as { isTTY?: boolean }).isTTY),
      translateTime: "HH:MM:ss.l",
      ignore: "pid,hostname,labels",
      messageFormat: `[${settings.component}] {msg}`,
      destination: 2,
      sync: true,
    });
    return pino({ level, base: { labels } }, stream);
  }
  const options: LoggerOptions = {
    level,
    messageKey: "message",
    base: { "logging.googleapis.com/labels": labels },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: {
      level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }),
    },
  };
  // Under vitest the process's own streams go through the console, so the runner can capture the lines.
  const own =
    settings.destination === undefined ||
    settings.destination === process.stdout ||
    settings.destination === process.stderr;
  const destination = process.env.VITEST && own ? consoleLines() : settings.destination;
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Under vitest, log lines go through `console.log`, which the test runner captures per test: with
 * `silent: "passed-only"` (vitest.config.ts) a green run prints none of them and a failing test shows its own.
 */
function consoleLines(): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = chunk.toString().replace(/\n$/, "");
      if (text !== "") console.log(text);
      callback();
    },
  });
}

/** Cloud Logging's trace field for a request carrying `X-Cloud-Trace-Context` or `traceparent`. */
export function traceFields(
  project: string,
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const cloud = first(headers["x-cloud-trace-context"]);
  const parent = first(headers.traceparent);
  const traceId = cloud?.split("/")[0] ?? parent?.split("-")[1];
  return traceId ? { "logging.googleapis.com/trace": `projects/${project}/traces/${traceId}` } : {};
}
