import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { isMap, isScalar, isSeq, type Node, parseDocument } from "yaml";
import { z } from "zod";

/** Root of the conformance corpus; see its README.md for the case format. */
export const CORPUS_DIR = join(import.meta.dirname, "..", "..", "conformance", "workflows");
export const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");

/** Identity the runner gives every execution; the sys.get_env cases expect exactly these values. */
export const RUN_IDENTITY = {
  projectId: "conformance-project",
  location: "us-central1",
  workflowId: "conformance",
  executionId: "exec-1",
} as const;

const errorExpectation = z
  .object({
    /** Tags that must all be present in the error map's `tags` (others may be present too). */
    tags: z.array(z.string()).optional(),
    /** Exact `message` of the error map. */
    message: z.string().optional(),
    /** Substring of the error map's `message`. */
    messageContains: z.string().optional(),
    /** `code` of the error map (HTTP status for HttpError, or a raised map's code). */
    code: z.number().optional(),
    /** The whole error payload, deep-equal (for `raise` of a string or a custom map). */
    payload: z.unknown().optional(),
  })
  .strict()
  .refine((e) => Object.keys(e).length > 0, "expect.error must assert something");

const deployExpectation = z
  .object({
    /** Substring of the deploy error's message or of one of its problems' messages. */
    messageContains: z.string().optional(),
    /** Name of the step one of the problems must point at. */
    step: z.string().optional(),
  })
  .strict();

const expectation = z
  .object({
    result: z.unknown().optional(),
    error: errorExpectation.optional(),
    deployError: deployExpectation.optional(),
  })
  .strict()
  .refine(
    (e) => ["result", "error", "deployError"].filter((k) => k in e).length === 1,
    "expect needs exactly one of result, error, deployError",
  );

const caseSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "lower-case name without spaces"),
    /** Google documentation page, sample or issue thread the expectation comes from. */
    source: z.string().min(8),
    note: z.string().optional(),
    workflow: z.unknown().optional(),
    /** Path, relative to the repository root, of a workflow file to run instead of `workflow`. */
    workflowFile: z.string().optional(),
    argument: z.unknown().optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** Per-case time limit in ms (retries with real backoff need more than the default). */
    timeoutMs: z.number().int().positive().optional(),
    expect: expectation,
  })
  .strict()
  .refine((c) => "workflow" in c !== "workflowFile" in c, "give exactly one of workflow, workflowFile");

export type ErrorExpectation = z.infer<typeof errorExpectation>;
export type DeployExpectation = z.infer<typeof deployExpectation>;

export interface ConformanceCase {
  topic: string;
  name: string;
  file: string;
  source: string;
  note?: string;
  /** Workflow source text handed to parseWorkflow, exactly as written in the case file. */
  workflowSource: string;
  workflowFileName: string;
  argument?: unknown;
  hasArgument: boolean;
  env: Record<string, string>;
  timeoutMs?: number;
  expect: z.infer<typeof expectation>;
}

function listYamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listYamlFiles(full));
    else if (entry.name.endsWith(".yaml") && entry.name !== "README.yaml") out.push(full);
  }
  return out.sort();
}

/**
 * Cuts the `workflow:` value out of the case file text as written, so that `4.0` stays a double
 * and `TRUE` stays as the author wrote it; re-serialising parsed YAML would lose both.
 */
function sliceNodeSource(text: string, node: Node): string {
  if (isScalar(node) && typeof node.value === "string") return node.value;
  const range = node.range;
  if (!range) throw new Error("workflow node has no source range");
  const start = range[0];
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const column = start - lineStart;
  const block = " ".repeat(column) + text.slice(start, range[1]);
  return block
    .split("\n")
    .map((line) => (line.slice(0, column).trim() === "" ? line.slice(column) : line))
    .join("\n");
}

export function loadCases(corpusDir: string = CORPUS_DIR): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const seen = new Set<string>();
  for (const file of listYamlFiles(corpusDir)) {
    const rel = relative(corpusDir, file);
    const topic = rel.split(sep)[0] ?? rel;
    const text = readFileSync(file, "utf8");
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) throw new Error(`${rel}: YAML error: ${doc.errors[0]?.message}`);
    const list = doc.get("cases", true);
    if (!isSeq(list)) throw new Error(`${rel}: top-level "cases:" list missing`);
    list.items.forEach((item, index) => {
      if (!isMap(item)) throw new Error(`${rel}: case #${index} is not a map`);
      const plain = item.toJS(doc) as Record<string, unknown>;
      const parsed = caseSchema.safeParse(plain);
      if (!parsed.success) {
        throw new Error(`${rel}: case #${index} (${String(plain.name)}): ${parsed.error.message}`);
      }
      const c = parsed.data;
      const id = `${topic}/${c.name}`;
      if (seen.has(id)) throw new Error(`${rel}: duplicate case name ${id}`);
      seen.add(id);
      let workflowSource: string;
      let workflowFileName: string;
      if (c.workflowFile !== undefined) {
        workflowFileName = c.workflowFile;
        workflowSource = readFileSync(join(REPO_ROOT, c.workflowFile), "utf8");
      } else {
        const node = item.get("workflow", true) as Node;
        workflowSource = sliceNodeSource(text, node);
        workflowFileName = `${rel}#${c.name}`;
      }
      cases.push({
        topic,
        name: c.name,
        file: rel,
        source: c.source,
        note: c.note,
        workflowSource,
        workflowFileName,
        argument: c.argument,
        hasArgument: "argument" in plain,
        env: c.env ?? {},
        timeoutMs: c.timeoutMs,
        expect: c.expect,
      });
    });
  }
  return cases;
}
