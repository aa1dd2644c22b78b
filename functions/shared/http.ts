import type { HttpFunction, Request, Response } from "@google-cloud/functions-framework";
import type { z } from "zod";
import { describeValue } from "../../core/errors.ts";
import { createLogger, type Logger, traceFields } from "../../core/logger.ts";
import { schemaProblems } from "../../core/schema-problems.ts";
import { answerFor, BadRequestError } from "./errors.ts";

/** Reads the request body as JSON whatever content type it came with (the workflow sends application/json). */
export function jsonBody(req: Pick<Request, "body">): unknown {
  const body: unknown = req.body;
  let text: string | undefined;
  if (Buffer.isBuffer(body)) text = body.toString("utf8");
  else if (typeof body === "string") text = body;
  else if (body === undefined || body === null) text = "";
  else return body;
  if (text.trim() === "") throw new BadRequestError("the request body must be a JSON object; it is empty");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`the request body is not JSON: ${(err as Error).message}`);
  }
}

/** Validates a request body, turning the first problem into a 400 that names the field and the value. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problem = schemaProblems(result.error, body)[0];
  if (problem === undefined) throw new BadRequestError("the request body is invalid");
  const { field, message, value, unknownKeys } = problem;
  if (unknownKeys) {
    throw new BadRequestError(
      `unknown field${unknownKeys.length > 1 ? "s" : ""} ${unknownKeys.map((k) => `"${k}"`).join(", ")}`,
      unknownKeys[0],
    );
  }
  if (field === "") throw new BadRequestError(`the request body ${message} (got ${describeValue(value)})`);
  const what = value === undefined ? "is required" : `${message} (got ${describeValue(value)})`;
  throw new BadRequestError(`field "${field}" ${what}`, field);
}

export interface ShellOptions<S extends z.ZodType, D, R> {
  /** `plan` or `notify`: the log component. */
  component: string;
  /** The request body's schema. */
  schema: S;
  /** Clients, config and logger, built once per instance on the first request. */
  init: () => D;
  /** GCP project for the log's trace field. */
  project: (deps: D) => string;
  /** The handler logic: a plain function of the parsed body and the instance's dependencies. */
  handle: (body: z.output<S>, deps: D, logger: Logger) => Promise<R>;
  /** The instance's logger; by default core/logger's, labelled with `component`. */
  logger?: Logger;
}

/**
 * The functions-framework side of a function: POST only, body parsed with zod, clients built once per
 * instance, errors mapped to 400 (bad input), 503 (retry may help) or 500, every answer JSON.
 */
export function httpShell<S extends z.ZodType, D, R>(options: ShellOptions<S, D, R>): HttpFunction {
  const base = options.logger ?? createLogger({ component: options.component });
  let deps: D | undefined;
  return async (req: Request, res: Response) => {
    let logger = base;
    try {
      // A config error fails every request with its message (file, field, value) until it is fixed.
      deps ??= options.init();
      logger = base.child(traceFields(options.project(deps), req.headers));
      if (req.method !== "POST") {
        res
          .status(405)
          .set("Allow", "POST")
          .json({ error: { message: `use POST, not ${req.method}` } });
        return;
      }
      const body = parseRequest(options.schema, jsonBody(req));
      const result = await options.handle(body, deps, logger);
      res.status(200).json(result);
    } catch (err) {
      const answer = answerFor(err);
      // Bad input is the caller's to fix: its message is enough. Anything else gets its stack and cause.
      if (answer.status === 400) {
        logger.warn(
          { status: 400, field: answer.body.error.field },
          `rejected request: ${answer.body.error.message}`,
        );
      } else {
        logger.error(
          { err, status: answer.status, retryable: answer.retryable },
          `failed: ${answer.body.error.message}`,
        );
      }
      res.status(answer.status).json(answer.body);
    }
  };
}
