import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** gcloud's path when it is on PATH (the CLI tests run against the local services only where it is). */
export function findGcloud(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "gcloud");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
