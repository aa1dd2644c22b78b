import { createHash } from "node:crypto";
import { ObjectNameError } from "./errors.ts";

/**
 * The areas under `<product>/<client>/`:
 * - `inputs/…`  what the client uploads (the only area a client may write),
 * - `outputs/…` results, at the same relative path as their input (or a hashed name, below),
 * - `runs/<runId>/…` run records: manifest, task results, summary,
 * - `errors/<runId>/<path>.jsonl` bad records, with line numbers and reasons (or a hashed name, below),
 * - `claims/…` per-input claim objects that stop two runs taking the same input,
 * - `pending/…` the pending index: a marker per input that needs a run and has none yet
 *   (functions/plan/pending-index.ts), so an event plan never lists the whole history.
 */
export const AREAS = ["inputs", "outputs", "runs", "errors", "claims", "pending"] as const;
export type Area = (typeof AREAS)[number];

export interface ParsedObjectName {
  product: string;
  client: string;
  area: Area;
  /** What follows `<product>/<client>/<area>/`; never empty. */
  path: string;
}

/** GCS's own limit: an object name is at most 1024 bytes of UTF-8. */
export const MAX_OBJECT_NAME_BYTES = 1024;

/** Who the parser accepts: the product, and the clients that exist (a set or a predicate). */
export interface NameScope {
  product: string;
  clients: ReadonlySet<string> | ((client: string) => boolean);
}

// C0 controls, DEL and C1 controls: GCS forbids CR and LF, and none of these belong in a path we build on.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws ObjectNameError when `name` is not a safe GCS object name of any shape. */
export function assertSafeObjectName(name: string): void {
  if (name.length === 0) throw new ObjectNameError(name, "is empty");
  if (!name.isWellFormed()) throw new ObjectNameError(name, "is not valid Unicode (lone surrogate)");
  if (Buffer.byteLength(name, "utf8") > MAX_OBJECT_NAME_BYTES) {
    throw new ObjectNameError(name, `is longer than ${MAX_OBJECT_NAME_BYTES} bytes of UTF-8`);
  }
  const control = CONTROL.exec(name);
  if (control) {
    const code = control[0].codePointAt(0)?.toString(16).padStart(4, "0");
    throw new ObjectNameError(name, `contains the control character U+${code} at position ${control.index}`);
  }
  const segments = name.split("/");
  segments.forEach((segment, i) => {
    if (segment === "") {
      throw new ObjectNameError(
        name,
        `has an empty path segment (segment ${i + 1}; look for '//' or a leading or trailing '/')`,
      );
    }
    if (segment === "." || segment === "..") {
      throw new ObjectNameError(name, `has a '${segment}' segment, which is not allowed`);
    }
  });
}

/** Maps an object name to its product, client, area and path, rejecting anything unsafe or unknown. */
export function parseObjectName(name: string, scope: NameScope): ParsedObjectName {
  assertSafeObjectName(name);
  const [product, client, area, ...rest] = name.split("/");
  if (product !== scope.product) {
    throw new ObjectNameError(name, `is not under the product "${scope.product}/"`);
  }
  if (client === undefined || !isKnownClient(scope, client)) {
    throw new ObjectNameError(name, `names the unknown client ${JSON.stringify(client ?? "")}`);
  }
  if (area === undefined || !(AREAS as readonly string[]).includes(area)) {
    throw new ObjectNameError(
      name,
      `has no known area after the client (expected one of ${AREAS.join(", ")})`,
    );
  }
  if (rest.length === 0) throw new ObjectNameError(name, `has nothing after "${area}/"`);
  return { product, client, area: area as Area, path: rest.join("/") };
}

function isKnownClient(scope: NameScope, client: string): boolean {
  return typeof scope.clients === "function" ? scope.clients(client) : scope.clients.has(client);
}

/** True for the zero-byte "folder" objects consoles create: names ending in '/'. */
export function isFolderPlaceholder(name: string): boolean {
  return name.endsWith("/");
}

/** `<product>/<client>/<area>/` */
export function areaPrefix(product: string, client: string, area: Area): string {
  return `${product}/${client}/${area}/`;
}

/** `<product>/<client>/` */
export function clientPrefix(product: string, client: string): string {
  return `${product}/${client}/`;
}

/** Builds `<product>/<client>/<area>/<path>` and checks the result is safe. */
export function objectName(product: string, client: string, area: Area, path: string): string {
  const name = `${areaPrefix(product, client, area)}${path}`;
  assertSafeObjectName(name);
  return name;
}

/**
 * The folder of hashed names. A name derived from an input's (its output, its errors file) is longer than the
 * input's own, so an input whose name is valid but near GCS's limit would have no valid output name. Such
 * derived names are instead `<area>/[<runId>/].hashed/<SHA-256 of the input's object name, hex>` plus an
 * extension, about 160 bytes at most (product and client ids are at most 24 characters); the input's name is
 * in the object's provenance metadata
 * (`batchlineInputObject`). Inputs whose own path starts with `.hashed/` get hashed names too, so a natural
 * name can never be taken for, or collide with, a hashed one.
 */
export const HASHED_NAMES_FOLDER = ".hashed";

/**
 * The output object for an input: `outputs/<same relative path>`, or `outputs/.hashed/<sha256><ext>` when
 * that is too long (see HASHED_NAMES_FOLDER; `<ext>` is the input's extension, such as `.jsonl`, if any).
 * Throws ObjectNameError when the input's own name is unsafe.
 */
export function outputNameFor(input: ParsedObjectName): string {
  return derivedName(input, "outputs", "", input.path, extensionOf(input.path));
}

/**
 * Where a run's bad records for one input go: `errors/<runId>/<path>.jsonl`, or
 * `errors/<runId>/.hashed/<sha256>.jsonl` when that is too long (see HASHED_NAMES_FOLDER). Throws
 * ObjectNameError when the input's own name is unsafe.
 */
export function errorsNameFor(input: ParsedObjectName, runId: string): string {
  return derivedName(input, "errors", `${runId}/`, `${input.path}.jsonl`, ".jsonl");
}

/**
 * `<area>/<folder><natural>` when that is a valid name and not in the hashed names' folder, else
 * `<area>/<folder>.hashed/<hash of the input's name><suffix>`. The input's own name is checked first, so an
 * unsafe input (`..`, control characters, over the limit itself) is refused, never hashed.
 */
function derivedName(
  input: ParsedObjectName,
  area: Area,
  folder: string,
  natural: string,
  hashedSuffix: string,
): string {
  const inputName = objectName(input.product, input.client, input.area, input.path);
  const prefix = areaPrefix(input.product, input.client, area);
  if (!input.path.startsWith(`${HASHED_NAMES_FOLDER}/`)) {
    const name = `${prefix}${folder}${natural}`;
    if (Buffer.byteLength(name, "utf8") <= MAX_OBJECT_NAME_BYTES) {
      assertSafeObjectName(name);
      return name;
    }
  }
  const digest = createHash("sha256").update(inputName, "utf8").digest("hex");
  return objectName(
    input.product,
    input.client,
    area,
    `${folder}${HASHED_NAMES_FOLDER}/${digest}${hashedSuffix}`,
  );
}

/** The extension of a path's last segment (`.jsonl`, `.gz`): a dot and 1 to 16 ASCII letters or digits, else "". */
function extensionOf(path: string): string {
  const m = /[^/.]\.([A-Za-z0-9]{1,16})$/.exec(path);
  return m ? `.${m[1]}` : "";
}

/** A run record: `runs/<runId>/<rest>`, e.g. `manifest.json`, `tasks/3.json`, `summary.json`. */
export function runRecordName(product: string, client: string, runId: string, rest: string): string {
  return objectName(product, client, "runs", `${runId}/${rest}`);
}

/** `gs://bucket/name` */
export function gsUri(bucket: string, name: string): string {
  return `gs://${bucket}/${name}`;
}

/** Splits `gs://bucket/name` into its parts. */
export function parseGsUri(uri: string): { bucket: string; name: string } {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m?.[1] || !m[2]) throw new ObjectNameError(uri, "is not a gs://BUCKET/OBJECT URI");
  return { bucket: m[1], name: m[2] };
}

/**
 * The storage fields a new object gets for retention: run records (`<product>/<client>/runs/…`) carry GCS's
 * `customTime` (the time written), so the bucket's one lifecycle rule, `daysSinceCustomTime` on the product's
 * prefix (infra/constructs/platform-bucket.ts), deletes them and never an input, output, error or claim, which
 * have no custom time. One rule for every client: onboarding a client never changes the bucket.
 */
export function retentionFields(name: string, now: Date = new Date()): { customTime?: string } {
  return name.split("/")[2] === "runs" ? { customTime: now.toISOString() } : {};
}
