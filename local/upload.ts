import type { Bucket } from "@google-cloud/storage";
import type { BatchlineConfig } from "../core/config/load.ts";
import { BatchlineError } from "../core/errors.ts";
import { areaPrefix, assertSafeObjectName } from "../core/naming.ts";

/** The object an upload made and its generation. */
export interface UploadResult {
  object: string;
  generation: string;
}

/** Above this an input goes up as a resumable upload, as `gcloud storage cp` does for large files. */
const RESUMABLE_OVER_BYTES = 8 * 1024 * 1024;

/**
 * Uploads `contents` as `<product>/<client>/inputs/<path>` into the platform bucket, the one way both the local
 * cloud's `upload()` and `batchline local upload` write an input: the client must be configured and the name
 * safe (ObjectNameError names the problem) before anything is written.
 */
export async function uploadInput(
  bucket: Bucket,
  config: BatchlineConfig,
  client: string,
  path: string,
  contents: string | Buffer,
  contentType?: string,
): Promise<UploadResult> {
  if (!config.clients.has(client)) {
    throw new BatchlineError(`unknown client "${client}" (known: ${[...config.clients.keys()].join(", ")})`);
  }
  const name = `${areaPrefix(config.platform.product, client, "inputs")}${path}`;
  assertSafeObjectName(name);
  const file = bucket.file(name);
  await file.save(contents, {
    resumable: Buffer.byteLength(contents) > RESUMABLE_OVER_BYTES,
    ...(contentType === undefined ? {} : { contentType }),
  });
  const [metadata] = await file.getMetadata();
  return { object: name, generation: String(metadata.generation) };
}
