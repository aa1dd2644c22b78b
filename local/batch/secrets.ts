import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BatchlineError } from "../../core/errors.ts";

/**
 * Where `secretVariables` get their values. In the cloud the VM reads Secret Manager; locally the service
 * is handed a resolver, so tests and the demo can supply secrets without a GCP account.
 */
export interface SecretResolver {
  /** The secret's value for `projects/P/secrets/S/versions/V`; throws SecretUnavailableError when missing. */
  resolve(secretVersion: string): Promise<string>;
}

export class SecretUnavailableError extends BatchlineError {}

const SECRET_RE = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/]+)$/;

/** `BATCHLINE_SECRET_<NAME>`: the secret id upper-cased, every other character than A-Z and 0-9 as `_`. */
export function secretEnvName(secretId: string): string {
  return `BATCHLINE_SECRET_${secretId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * The local resolver: `<dir>/<secret>/<version>` (for `latest` also `<dir>/<secret>` as a plain file), then
 * the environment variable `BATCHLINE_SECRET_<SECRET>`. A trailing newline of a file is dropped, so
 * `echo value > file` works.
 */
export function localSecretResolver(options: { dir?: string; env?: NodeJS.ProcessEnv }): SecretResolver {
  const env = options.env ?? process.env;
  return {
    async resolve(secretVersion: string): Promise<string> {
      const m = SECRET_RE.exec(secretVersion);
      if (!m) throw new SecretUnavailableError(`"${secretVersion}" is not a secret version name`);
      const secret = m[2] as string;
      const version = m[3] as string;
      if (options.dir) {
        const candidates = [join(options.dir, secret, version)];
        if (version === "latest") candidates.push(join(options.dir, secret));
        for (const file of candidates) {
          try {
            return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== "ENOENT" && code !== "EISDIR" && code !== "ENOTDIR") {
              throw new SecretUnavailableError(
                `secret ${secretVersion}: cannot read ${file}: ${(err as Error).message}`,
                {
                  cause: err,
                },
              );
            }
          }
        }
      }
      const fromEnv = env[secretEnvName(secret)];
      if (fromEnv !== undefined) return fromEnv;
      const where = options.dir ? `${join(options.dir, secret, version)} or ` : "";
      throw new SecretUnavailableError(
        `secret ${secretVersion} is not available locally: put it in ${where}the environment variable ${secretEnvName(secret)}`,
      );
    },
  };
}

/** A resolver over a fixed map of secret version name -> value (tests). */
export function staticSecretResolver(values: Record<string, string>): SecretResolver {
  return {
    async resolve(secretVersion: string): Promise<string> {
      const value = values[secretVersion];
      if (value === undefined) throw new SecretUnavailableError(`secret ${secretVersion} is not available`);
      return value;
    },
  };
}
