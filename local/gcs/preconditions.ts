import { invalid, notModified, preconditionFailed } from "./errors.ts";

/** The generation/metageneration preconditions of one request, for one object. */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

const KEYS = [
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
] as const;

/**
 * Reads the precondition query parameters. `source` reads the `ifSource...` family a copy, rewrite or
 * move applies to the object it reads. A blank value counts as absent, as GCS treats it.
 */
export function parsePreconditions(
  query: URLSearchParams,
  family: "target" | "source" = "target",
): Preconditions {
  const out: Preconditions = {};
  for (const key of KEYS) {
    const param = family === "source" ? key.replace(/^if/, "ifSource") : key;
    const raw = query.get(param);
    if (raw === null || raw === "") continue;
    out[key] = parseInt64(param, raw);
  }
  return out;
}

/** Parses a generation-like int64 parameter, or throws GCS's 400 for it. */
export function parseInt64(param: string, raw: string): number {
  if (!/^-?\d{1,19}$/.test(raw)) throw invalid(`Invalid value for ${param}: ${raw}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalid(`Invalid value for ${param}: ${raw}`);
  return n;
}

/** What a precondition is compared against; undefined when the object does not exist. */
export interface Versioned {
  generation: number;
  metageneration: number;
}

/**
 * Throws when a precondition does not hold against `target`. An absent object has generation 0 (so
 * `ifGenerationMatch=0` means "only if absent") and no metageneration. A failed `...NotMatch` on a read
 * is 304 Not Modified, as GCS answers a conditional GET; every other failure is 412.
 */
export function checkPreconditions(
  pre: Preconditions,
  target: Versioned | undefined,
  kind: "read" | "write",
): void {
  const generation = target?.generation ?? 0;
  if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== generation) throw preconditionFailed();
  if (
    pre.ifMetagenerationMatch !== undefined &&
    (target === undefined || pre.ifMetagenerationMatch !== target.metageneration)
  ) {
    throw preconditionFailed();
  }
  const notModifiedOr412 = kind === "read" ? notModified : preconditionFailed;
  if (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === generation)
    throw notModifiedOr412();
  if (
    pre.ifMetagenerationNotMatch !== undefined &&
    target !== undefined &&
    pre.ifMetagenerationNotMatch === target.metageneration
  ) {
    throw notModifiedOr412();
  }
}

export function hasPreconditions(pre: Preconditions): boolean {
  return KEYS.some((k) => pre[k] !== undefined);
}
