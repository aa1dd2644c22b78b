import { GcsError, methodNotAllowed } from "../errors.ts";
import { checkPreconditions, type Preconditions, parseInt64 } from "../preconditions.ts";
import type { RequestContext } from "./context.ts";
import { sendMedia } from "./media.ts";
import { generationParam } from "./objects.ts";

const XML_CODES: Record<number, [string, string]> = {
  400: ["InvalidArgument", "Invalid argument."],
  404: ["NoSuchKey", "The specified key does not exist."],
  412: ["PreconditionFailed", "At least one of the pre-conditions you specified did not hold."],
  416: ["InvalidRange", "The requested range cannot be satisfied."],
};

/**
 * `GET|HEAD /<bucket>/<object>`: the XML API's download path (what `file.isPublic()` and plain HTTP
 * tools use). Preconditions come from `x-goog-if-generation-match` / `x-goog-if-metageneration-match`;
 * errors are XML, as the XML API sends them.
 */
export async function handleXmlObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") throw methodNotAllowed();
  try {
    const record = ctx.store.getObject(bucket, name, generationParam(ctx.query));
    checkPreconditions(xmlPreconditions(ctx), record, "read");
    await sendMedia(ctx, record, ctx.req.method === "HEAD");
  } catch (err) {
    if (!(err instanceof GcsError) || err.status === 304) throw err;
    const [code, message] =
      err.status === 404 && err.message.startsWith("The specified bucket")
        ? ["NoSuchBucket", "The specified bucket does not exist."]
        : (XML_CODES[err.status] ?? ["InternalError", err.message]);
    const body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    ctx.res.writeHead(err.status, {
      "content-type": "application/xml; charset=UTF-8",
      "content-length": String(Buffer.byteLength(body)),
      ...err.headers,
    });
    ctx.res.end(ctx.req.method === "HEAD" ? undefined : body);
  }
}

function xmlPreconditions(ctx: RequestContext): Preconditions {
  const pre: Preconditions = {};
  const g = ctx.req.headers["x-goog-if-generation-match"];
  const m = ctx.req.headers["x-goog-if-metageneration-match"];
  if (typeof g === "string") pre.ifGenerationMatch = parseInt64("x-goog-if-generation-match", g);
  if (typeof m === "string") pre.ifMetagenerationMatch = parseInt64("x-goog-if-metageneration-match", m);
  return pre;
}
