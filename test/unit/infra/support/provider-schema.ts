import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The google provider's schema as `@cdktf/provider-google` ships it. The package carries no Terraform
 * provider schema JSON, but its jsii assembly (`.jsii`) describes every resource's config struct: each
 * property's type, whether it is optional (Terraform `Required` attributes are not), and a link to the
 * registry docs whose anchor is the Terraform attribute name. That is enough to check synthesized JSON the
 * way `terraform validate` would check names, nesting, required attributes and primitive types.
 */

export type TypeSchema =
  | { kind: "string" | "number" | "boolean" | "any" }
  | { kind: "list" | "map"; element: TypeSchema }
  | { kind: "block"; struct: StructSchema };

export interface AttributeSchema {
  /** The Terraform attribute name, e.g. `uniform_bucket_level_access`. */
  tfName: string;
  /** The TypeScript property name, e.g. `uniformBucketLevelAccess`. */
  property: string;
  optional: boolean;
  type: TypeSchema;
}

export interface StructSchema {
  /** jsii fully-qualified name, e.g. `@cdktf/provider-google.storageBucket.StorageBucketLifecycleRule`. */
  fqn: string;
  /** The struct's TypeScript name, e.g. `StorageBucketLifecycleRule`. */
  name: string;
  /** The generated module it lives in, e.g. `storage-bucket`. */
  module: string;
  attributes: Map<string, AttributeSchema>;
}

export interface ResourceSchema {
  tfType: string;
  className: string;
  module: string;
  config: StructSchema;
}

export interface ProviderSchema {
  version: string;
  resources: Map<string, ResourceSchema>;
  provider: ResourceSchema;
}

interface JsiiTypeRef {
  primitive?: string;
  fqn?: string;
  collection?: { kind: "array" | "map"; elementtype: JsiiTypeRef };
  union?: { types: JsiiTypeRef[] };
}

interface JsiiProperty {
  name: string;
  optional?: boolean;
  type: JsiiTypeRef;
  docs?: unknown;
}

interface JsiiType {
  kind: "class" | "interface" | "enum";
  fqn: string;
  name: string;
  datatype?: boolean;
  properties?: JsiiProperty[];
  initializer?: { parameters?: { name: string; type: JsiiTypeRef }[] };
  docs?: { summary?: string };
  locationInModule?: { filename: string };
}

const require = createRequire(import.meta.url);
export const PROVIDER_PACKAGE_DIR = dirname(require.resolve("@cdktf/provider-google/package.json"));

/** Terraform's meta-arguments, allowed on every resource besides its schema attributes. */
export const META_ARGUMENTS = new Set([
  "count",
  "depends_on",
  "for_each",
  "lifecycle",
  "provider",
  "provisioner",
  "connection",
]);

const REGISTRY_ANCHOR =
  /\{@link https:\/\/registry\.terraform\.io\/providers\/hashicorp\/google\/[^\s#}]*#([A-Za-z0-9_]+) [A-Za-z0-9]+#[A-Za-z0-9_]+\}/g;

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The Terraform name of a property: the last registry-docs anchor in its docs, else snake_case. */
function tfNameOf(prop: JsiiProperty): string {
  const docs = JSON.stringify(prop.docs ?? {});
  const anchors = [...docs.matchAll(REGISTRY_ANCHOR)].map((m) => m[1]);
  return anchors.at(-1) ?? snakeCase(prop.name);
}

function moduleOf(type: JsiiType): string {
  const file = type.locationInModule?.filename ?? "";
  const m = /^src\/([^/]+)\//.exec(file);
  if (!m?.[1]) throw new Error(`cannot tell the module of ${type.fqn} (${file})`);
  return m[1];
}

let cached: ProviderSchema | undefined;

/** Loads (once per process) the schema from the installed provider package. */
export function loadProviderSchema(): ProviderSchema {
  if (cached) return cached;
  const assembly = JSON.parse(readFileSync(join(PROVIDER_PACKAGE_DIR, ".jsii"), "utf8")) as {
    version: string;
    types: Record<string, JsiiType>;
  };
  const types = assembly.types;
  const structs = new Map<string, StructSchema>();

  const typeOf = (ref: JsiiTypeRef): TypeSchema => {
    if (ref.union) {
      const real = ref.union.types.filter((t) => t.fqn !== "cdktf.IResolvable");
      return real.length === 1 && real[0] ? typeOf(real[0]) : { kind: "any" };
    }
    if (ref.primitive === "string" || ref.primitive === "number" || ref.primitive === "boolean") {
      return { kind: ref.primitive };
    }
    if (ref.primitive) return { kind: "any" };
    if (ref.collection) {
      return {
        kind: ref.collection.kind === "array" ? "list" : "map",
        element: typeOf(ref.collection.elementtype),
      };
    }
    if (ref.fqn && types[ref.fqn]?.datatype) return { kind: "block", struct: structOf(ref.fqn) };
    return { kind: "any" };
  };

  const structOf = (fqn: string): StructSchema => {
    const existing = structs.get(fqn);
    if (existing) return existing;
    const type = types[fqn];
    if (!type) throw new Error(`no type ${fqn} in the provider's assembly`);
    const struct: StructSchema = { fqn, name: type.name, module: moduleOf(type), attributes: new Map() };
    structs.set(fqn, struct); // before recursing: structs can be self-referential
    for (const prop of type.properties ?? []) {
      const tfName = tfNameOf(prop);
      struct.attributes.set(tfName, {
        tfName,
        property: prop.name,
        optional: prop.optional === true,
        type: typeOf(prop.type),
      });
    }
    return struct;
  };

  const resources = new Map<string, ResourceSchema>();
  let provider: ResourceSchema | undefined;
  for (const type of Object.values(types)) {
    if (type.kind !== "class") continue;
    const configFqn = type.initializer?.parameters?.find((p) => p.name === "config")?.type.fqn;
    if (!configFqn) continue;
    const summary = type.docs?.summary ?? "";
    const resource = /docs\/resources\/[a-z0-9_]+ (google_[a-z0-9_]+)\}/.exec(summary);
    if (resource?.[1]) {
      resources.set(resource[1], {
        tfType: resource[1],
        className: type.name,
        module: moduleOf(type),
        config: structOf(configFqn),
      });
    } else if (type.fqn === "@cdktf/provider-google.provider.GoogleProvider") {
      provider = { tfType: "google", className: type.name, module: "provider", config: structOf(configFqn) };
    }
  }
  if (!provider) throw new Error("the provider's assembly has no GoogleProvider");
  cached = { version: assembly.version, resources, provider };
  return cached;
}

/** An interpolation such as `${google_service_account.x.email}`: its type is only known at apply time. */
function isToken(value: unknown): boolean {
  return typeof value === "string" && value.includes("${");
}

function checkValue(value: unknown, type: TypeSchema, path: string, problems: string[]): void {
  if (value === null || value === undefined) return;
  switch (type.kind) {
    case "any":
      return;
    case "string":
      if (typeof value !== "string")
        problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
      return;
    case "number":
      if (typeof value !== "number" && !isToken(value)) {
        problems.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
      }
      return;
    case "boolean":
      if (typeof value !== "boolean" && !isToken(value)) {
        problems.push(`${path}: expected a boolean, got ${JSON.stringify(value)}`);
      }
      return;
    case "list":
      if (isToken(value)) return;
      if (!Array.isArray(value)) {
        problems.push(`${path}: expected a list, got ${JSON.stringify(value)}`);
        return;
      }
      value.forEach((item, i) => {
        checkValue(item, type.element, `${path}[${i}]`, problems);
      });
      return;
    case "map":
      if (isToken(value)) return;
      if (typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${path}: expected a map, got ${JSON.stringify(value)}`);
        return;
      }
      for (const [k, v] of Object.entries(value)) checkValue(v, type.element, `${path}.${k}`, problems);
      return;
    case "block": {
      if (isToken(value)) return;
      // Terraform's JSON syntax takes a nested block as an object, or a list of objects for repeated blocks.
      const items = Array.isArray(value) ? value : [value];
      items.forEach((item, i) => {
        const at = Array.isArray(value) ? `${path}[${i}]` : path;
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          problems.push(`${at}: expected a ${type.struct.name} block, got ${JSON.stringify(item)}`);
          return;
        }
        checkStruct(item as Record<string, unknown>, type.struct, at, problems, new Set());
      });
      return;
    }
  }
}

function checkStruct(
  body: Record<string, unknown>,
  struct: StructSchema,
  path: string,
  problems: string[],
  alsoAllowed: ReadonlySet<string>,
): void {
  for (const [key, value] of Object.entries(body)) {
    if (key === "//" || alsoAllowed.has(key)) continue;
    const attribute = struct.attributes.get(key);
    if (!attribute) {
      problems.push(`${path}.${key}: not an attribute of ${struct.name}`);
      continue;
    }
    checkValue(value, attribute.type, `${path}.${key}`, problems);
  }
  for (const attribute of struct.attributes.values()) {
    if (attribute.optional) continue;
    const value = body[attribute.tfName];
    if (value === undefined || value === null)
      problems.push(`${path}.${attribute.tfName}: required, missing`);
  }
}

/** Terraform JSON as cdktf writes it for one stack. */
export interface StackJson {
  provider?: Record<string, Record<string, unknown>[]>;
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  [key: string]: unknown;
}

/** Every problem in a stack's resources and provider blocks; empty when the stack fits the schema. */
export function validateStack(stack: StackJson, schema: ProviderSchema = loadProviderSchema()): string[] {
  const problems: string[] = [];
  for (const [tfType, instances] of Object.entries(stack.resource ?? {})) {
    const resource = schema.resources.get(tfType);
    if (!resource) {
      problems.push(`${tfType}: not a resource type of the google provider ${schema.version}`);
      continue;
    }
    for (const [name, body] of Object.entries(instances)) {
      checkStruct(body, resource.config, `${tfType}.${name}`, problems, META_ARGUMENTS);
    }
  }
  if (stack.data && Object.keys(stack.data).length > 0) {
    problems.push(`data sources present (${Object.keys(stack.data).join(", ")}) but not checked`);
  }
  for (const [name, blocks] of Object.entries(stack.provider ?? {})) {
    if (name !== "google") {
      problems.push(`provider.${name}: unexpected provider`);
      continue;
    }
    blocks.forEach((block, i) => {
      checkStruct(block, schema.provider.config, `provider.google[${i}]`, problems, new Set(["alias"]));
    });
  }
  return problems;
}

/** Every struct reachable from a resource's config, the config itself first. */
export function structsOf(resource: ResourceSchema): StructSchema[] {
  const seen = new Map<string, StructSchema>();
  const visit = (struct: StructSchema) => {
    if (seen.has(struct.fqn)) return;
    seen.set(struct.fqn, struct);
    for (const attribute of struct.attributes.values()) {
      let type = attribute.type;
      while (type.kind === "list" || type.kind === "map") type = type.element;
      if (type.kind === "block") visit(type.struct);
    }
  };
  visit(resource.config);
  return [...seen.values()];
}
