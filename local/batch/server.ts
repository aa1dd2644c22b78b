import { createServer } from "node:http";
import type { Logger } from "../../core/logger.ts";
import {
  type ApiRoute,
  dispatch,
  intParam,
  type LocalApiServer,
  listen,
  queryParams,
  readJsonBody,
  sendError,
  sendJson,
} from "../google-api.ts";
import { enumsAsNumbers, V1 } from "./schema.ts";
import type { LocalBatch } from "./service.ts";

/**
 * The Batch v1 REST surface (batch.proto's google.api.http rules) over a LocalBatch:
 *   POST   /v1/{parent=projects/*\/locations/*}/jobs?jobId=…&requestId=…   body: Job
 *   GET    /v1/{name=projects/*\/locations/*\/jobs/*}
 *   GET    /v1/{parent=projects/*\/locations/*}/jobs?filter=…&orderBy=…&pageSize=…&pageToken=…
 *   DELETE /v1/{name=projects/*\/locations/*\/jobs/*}?reason=…&requestId=…        -> Operation
 *   POST   /v1/{name=projects/*\/locations/*\/jobs/*}:cancel                      -> Operation
 *   GET    /v1/{parent=projects/*\/locations/*\/jobs/*\/taskGroups/*}/tasks?filter=…&pageSize=…&pageToken=…
 *   GET    /v1/{name=projects/*\/locations/*\/jobs/*\/taskGroups/*\/tasks/*}
 *   GET    /v1/{name=projects/*\/locations/*\/operations/*}
 * Errors are Google API error bodies. Query parameters may be camelCase or snake_case; an unknown one is
 * rejected as the front end rejects it. `$alt=json;enum-encoding=int` (what the client libraries' REST
 * transport sends) makes enums come back as numbers.
 */

/** A local API server on a loopback port (`url` is `http://127.0.0.1:PORT`). */
export type BatchServer = LocalApiServer;

const SEG = "([^/:]+)";
const PREFIX = `^/v1/projects/${SEG}/locations/${SEG}`;

interface Reply {
  status: number;
  body: unknown;
  /** Message type of the body, for enum-encoding=int. */
  type?: string;
}

type Route = ApiRoute<LocalBatch, Reply>;

const ROUTES: Route[] = [
  {
    method: "POST",
    pattern: new RegExp(`${PREFIX}/jobs$`),
    run: async (batch, [project, location], url, req) => {
      const p = queryParams(url, ["jobId", "requestId"]);
      const body = await readJsonBody(req);
      const parent = `projects/${project}/locations/${location}`;
      const job = await batch.createJob(parent, p.get("jobId"), body, { requestId: p.get("requestId") });
      return { status: 200, body: job, type: `${V1}.Job` };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/jobs$`),
    run: (batch, [project, location], url) => {
      const p = queryParams(url, ["filter", "orderBy", "pageSize", "pageToken"]);
      const list = batch.listJobs(`projects/${project}/locations/${location}`, {
        filter: p.get("filter"),
        orderBy: p.get("orderBy"),
        pageSize: intParam(p, "pageSize"),
        pageToken: p.get("pageToken"),
      });
      return { status: 200, body: list, type: `${V1}.ListJobsResponse` };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/jobs/${SEG}$`),
    run: (batch, [project, location, job], url) => {
      queryParams(url, []);
      return {
        status: 200,
        body: batch.getJob(`projects/${project}/locations/${location}/jobs/${job}`),
        type: `${V1}.Job`,
      };
    },
  },
  {
    method: "DELETE",
    pattern: new RegExp(`${PREFIX}/jobs/${SEG}$`),
    run: (batch, [project, location, job], url) => {
      const p = queryParams(url, ["reason", "requestId"]);
      const name = `projects/${project}/locations/${location}/jobs/${job}`;
      return {
        status: 200,
        body: batch.deleteJob(name, { reason: p.get("reason"), requestId: p.get("requestId") }),
      };
    },
  },
  {
    method: "POST",
    pattern: new RegExp(`${PREFIX}/jobs/${SEG}:cancel$`),
    run: async (batch, [project, location, job], url, req) => {
      const p = queryParams(url, ["requestId"]);
      const body = (await readJsonBody(req)) as { requestId?: string; request_id?: string };
      const requestId = p.get("requestId") ?? body.requestId ?? body.request_id;
      return {
        status: 200,
        body: batch.cancelJob(`projects/${project}/locations/${location}/jobs/${job}`, { requestId }),
      };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/jobs/${SEG}/taskGroups/${SEG}/tasks$`),
    run: (batch, [project, location, job, group], url) => {
      const p = queryParams(url, ["filter", "pageSize", "pageToken"]);
      const list = batch.listTasks(
        `projects/${project}/locations/${location}/jobs/${job}/taskGroups/${group}`,
        {
          filter: p.get("filter"),
          pageSize: intParam(p, "pageSize"),
          pageToken: p.get("pageToken"),
        },
      );
      return { status: 200, body: list, type: `${V1}.ListTasksResponse` };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/jobs/${SEG}/taskGroups/${SEG}/tasks/${SEG}$`),
    run: (batch, [project, location, job, group, task], url) => {
      queryParams(url, []);
      const name = `projects/${project}/locations/${location}/jobs/${job}/taskGroups/${group}/tasks/${task}`;
      return { status: 200, body: batch.getTask(name), type: `${V1}.Task` };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/operations/${SEG}$`),
    run: (batch, [project, location, op], url) => {
      queryParams(url, []);
      return {
        status: 200,
        body: batch.getOperation(`projects/${project}/locations/${location}/operations/${op}`),
      };
    },
  },
];

/** Serves `batch` over HTTP on a loopback port (0: any free port). */
export function startBatchServer(
  batch: LocalBatch,
  options: { host?: string; port?: number; logger?: Logger } = {},
): Promise<BatchServer> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    dispatch(ROUTES, batch, req, "the Batch v1 API")
      .then(({ status, body, type }) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        const numeric = /enum-encoding=int/.test(url.searchParams.get("$alt") ?? "");
        sendJson(res, status, numeric && type ? enumsAsNumbers(type, body) : body);
      })
      .catch((err: unknown) => {
        sendError(res, err, options.logger, "local batch server");
      });
  });
  return listen(server, host, options.port);
}
