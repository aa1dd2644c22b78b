import { createHash } from "node:crypto";
import type { Bucket } from "@google-cloud/storage";
import type { ResolvedJobSettings } from "../../core/config/schema.ts";
import { ObjectNameError } from "../../core/errors.ts";
import { capReason } from "../../core/messages.ts";
import { areaPrefix, objectName, parseObjectName } from "../../core/naming.ts";
import { type ClaimMetadata, claimMetadataSchema } from "../../core/runs.ts";
import { isNotFound } from "./errors.ts";
import { customMetadata, describeZodError, writeIfGeneration } from "./gcs.ts";

/**
 * Claims of inputs whose names core/naming refuses to build on (`..` segments, `//`, control characters)
 * live here, keyed by a hash of the input name, so no unsafe name is ever copied into `claims/` (where a
 * recursive download would follow it out of the target directory). Inputs whose own path starts with this
 * folder are claimed by hash too, so a natural claim can never be a hashed one.
 */
export const UNSAFE_CLAIMS_FOLDER = ".unsafe";

/** The lease covers queueing on top of the job's worst case. */
export const LEASE_QUEUE_SECONDS = 3600;

/** Seconds in a Batch duration such as `3600s` or `1.5s`. */
export function parseSeconds(duration: string): number {
  const m = /^(\d+(?:\.\d{1,9})?)s$/.exec(duration);
  if (!m?.[1]) throw new RangeError(`"${duration}" is not a duration in seconds such as "3600s"`);
  return Number(m[1]);
}

/**
 * When a claim taken at `now` for a job of `taskCount` tasks may be taken over: the longest the job can run.
 * Tasks run `parallelism` at a time, so the job takes ⌈taskCount / parallelism⌉ waves, each at most
 * maxRunDuration × (maxRetryCount + 1) (every attempt may use its whole run time), plus an hour of queueing.
 * Only a run whose execution cannot be asked about (docs/architecture.md, "Recovery") waits for this.
 */
export function leaseExpiresAt(
  now: Date,
  job: Pick<ResolvedJobSettings, "maxRunDuration" | "maxRetryCount" | "parallelism">,
  taskCount: number,
): string {
  const waves = Math.max(1, Math.ceil(taskCount / Math.max(1, job.parallelism)));
  const seconds = waves * parseSeconds(job.maxRunDuration) * (job.maxRetryCount + 1) + LEASE_QUEUE_SECONDS;
  return new Date(now.getTime() + Math.ceil(seconds * 1000)).toISOString();
}

/** The claim object of an input: `claims/<input path>`, or a hashed name for unsafe input names. */
export function claimNameFor(product: string, client: string, inputName: string): string {
  return perInputName(product, client, "claims", inputName);
}

export function unsafeClaimName(product: string, client: string, inputName: string): string {
  return unsafePerInputName(product, client, "claims", inputName);
}

/**
 * The object that stands for one input in a per-input area (`claims/`, `pending/`): `<area>/<input path>`,
 * or `<area>/.unsafe/<sha256 of the input name>` for names core/naming refuses to build on.
 */
export function perInputName(
  product: string,
  client: string,
  area: "claims" | "pending",
  inputName: string,
): string {
  try {
    const parsed = parseObjectName(inputName, { product, clients: new Set([client]) });
    // An input under inputs/.unsafe/ would otherwise take the very object an unsafe name's hash takes.
    if (parsed.area === "inputs" && !parsed.path.startsWith(`${UNSAFE_CLAIMS_FOLDER}/`)) {
      return objectName(product, client, area, parsed.path);
    }
  } catch (err) {
    if (!(err instanceof ObjectNameError)) throw err;
  }
  return unsafePerInputName(product, client, area, inputName);
}

function unsafePerInputName(
  product: string,
  client: string,
  area: "claims" | "pending",
  inputName: string,
): string {
  const digest = createHash("sha256").update(inputName, "utf8").digest("hex");
  return `${areaPrefix(product, client, area)}${UNSAFE_CLAIMS_FOLDER}/${digest}`;
}

/** A claim as read from storage: its object generation (for the compare-and-swap) and its state. */
export type ClaimRead =
  | { generation: string; valid: true; claim: ClaimMetadata }
  | { generation: string; valid: false; problem: string };

/** Parses a claim object's custom metadata; a foreign or damaged claim is reported, never guessed at. */
export function parseClaim(generation: string, metadata: Record<string, string>): ClaimRead {
  const result = claimMetadataSchema.safeParse(metadata);
  if (result.success) return { generation, valid: true, claim: result.data };
  return { generation, valid: false, problem: describeZodError(result.error, metadata) };
}

/** Reads one claim; null when there is none. */
export async function readClaim(bucket: Bucket, name: string): Promise<ClaimRead | null> {
  try {
    const [metadata] = await bucket.file(name).getMetadata();
    return parseClaim(String(metadata.generation), customMetadata(metadata.metadata));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Sets a claim's state if the claim object is still at `ifGenerationMatch` ("0": only if there is none).
 * Returns the new generation, or null when another writer got there first. The body names the input, for
 * people looking at a claim; the state is in the metadata.
 */
export function writeClaim(
  bucket: Bucket,
  name: string,
  inputName: string,
  claim: ClaimMetadata,
  ifGenerationMatch: string,
): Promise<string | null> {
  const metadata = claimMetadataSchema.parse({ ...claim, reason: capReason(claim.reason) });
  return writeIfGeneration(bucket.file(name), `${JSON.stringify({ input: inputName })}\n`, {
    ifGenerationMatch,
    metadata,
  });
}
