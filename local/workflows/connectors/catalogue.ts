import { readFileSync } from "node:fs";

/**
 * Every connector method Google publishes, so that deploy accepts a workflow calling one the local cloud
 * does not emulate (it raises at run time instead, naming the emulated ones).
 *
 * Workflows connectors are the Google APIs' REST methods named `googleapis.<service>.<version>.<resource…>
 * .<method>` (docs, "Connectors reference"), taking the method's path and query parameters as arguments
 * and the request body as `body`. `catalogue.json` lists them for every API version, generated from the
 * discovery-derived `googleapis` npm package by `scripts/generate-workflows-connectors.ts` (regenerate it
 * after upgrading that devDependency). The discovery documents cover more APIs than Google has published
 * connectors for; we accept all of them, as a connector name that is not published still fails on
 * Google's side when the workflow deploys there, and a list of published connector services is not in
 * any machine-readable source we could regenerate from.
 *
 * A few connector methods exist only in Workflows, not in the REST APIs; they are listed by hand below
 * from the Connectors reference pages.
 */
export interface CatalogueMethod {
  /** Full connector name. */
  readonly name: string;
  /** Arguments that must be given. */
  readonly required: readonly string[];
  /** Every argument the method takes (required, optional, the APIs' standard query parameters, `body`). */
  readonly params: ReadonlySet<string>;
  /**
   * Whether `params` is the whole set, so that another argument name is a deploy error. It is not for a
   * method with a request body: Google's connectors also take request fields as arguments there (the
   * published translate sample calls `translations.translate` with `q`, `target`, `source`, `format`, which
   * the discovery document puts in the body), so the catalogue cannot tell a typo from a request field.
   */
  readonly closed: boolean;
}

interface CatalogueFile {
  source: string;
  standard: string;
  apis: Record<string, Record<string, string>>;
}

/** Connector helper methods of Workflows itself, not in the REST APIs (docs, "Connectors reference": Secret
 * Manager `accessString` and `accessRaw` read a secret by id and give its value decoded; Workflow Executions
 * `run` starts an execution and waits for its result). */
const WORKFLOWS_ONLY: Readonly<Record<string, string>> = {
  "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run":
    "*workflow_id argument location project_id",
  "googleapis.secretmanager.v1.projects.secrets.versions.accessString": "*secret_id project_id version",
  "googleapis.secretmanager.v1.projects.secrets.versions.accessRaw": "*secret_id project_id version",
};

let loaded: CatalogueFile | undefined;
let standard: readonly string[] = [];
const cache = new Map<string, CatalogueMethod | null>();

function file(): CatalogueFile {
  if (!loaded) {
    loaded = JSON.parse(readFileSync(new URL("./catalogue.json", import.meta.url), "utf8")) as CatalogueFile;
    standard = loaded.standard.split(" ");
  }
  return loaded;
}

function method(name: string, spec: string, withStandard: boolean): CatalogueMethod {
  const list = spec === "" ? [] : spec.split(" ");
  const required = list.filter((p) => p.startsWith("*")).map((p) => p.slice(1));
  const params = new Set(list.map((p) => (p.startsWith("*") ? p.slice(1) : p)));
  if (withStandard) for (const p of standard) params.add(p);
  return { name, required, params, closed: !params.has("body") };
}

/** The published connector method with this full name, or undefined. */
export function catalogueMethod(name: string): CatalogueMethod | undefined {
  const hit = cache.get(name);
  if (hit !== undefined) return hit ?? undefined;
  let found: CatalogueMethod | undefined;
  const extra = WORKFLOWS_ONLY[name];
  if (extra !== undefined) found = method(name, extra, false);
  else if (name.startsWith("googleapis.")) {
    const parts = name.split(".");
    const apis = file().apis;
    // Versions are one segment (`v1`, `v1beta2`) except for a few old APIs (`v1.4`).
    for (const versionParts of [1, 2]) {
      const api = apis[parts.slice(1, 2 + versionParts).join(".")];
      const spec = api?.[parts.slice(2 + versionParts).join(".")];
      if (spec !== undefined) {
        found = method(name, spec, true);
        break;
      }
    }
  }
  cache.set(name, found ?? null);
  return found;
}

/** Where the catalogue came from (`googleapis@<version> (npm)`), for messages. */
export function catalogueSource(): string {
  return file().source;
}
