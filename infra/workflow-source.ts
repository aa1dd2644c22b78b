import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { InfraError } from "./errors.ts";

/**
 * Reads the workflow definition that becomes the workflow's `source_contents`. A missing or unparsable file
 * fails synth here, naming the path, instead of reaching Workflows as a failed deploy.
 */
export function readWorkflowSource(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${(err as Error).message})`;
    throw new InfraError(
      `workflow definition ${file} ${why}; write it, or point BATCHLINE_WORKFLOW_FILE at another file`,
      { cause: err },
    );
  }
  // Workflows parses the file as YAML too; an expression with ": " in it must be quoted, or it is not YAML.
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const shown = doc.errors.slice(0, 3).map((e) => e.message.split("\n")[0]?.replace(/:$/, ""));
    const more = doc.errors.length > 3 ? ` and ${doc.errors.length - 3} more` : "";
    throw new InfraError(`workflow definition ${file} is not valid YAML: ${shown.join("; ")}${more}`);
  }
  const body: unknown = doc.toJS();
  if (body === null || typeof body !== "object") {
    throw new InfraError(`workflow definition ${file} is empty or not a YAML mapping or list of steps`);
  }
  return text;
}
