import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { clientReaderCondition, inputsCreatorCondition } from "../../../infra/iam.ts";
import {
  conditionLiterals,
  evaluateCondition,
  ROLE_PERMISSIONS,
  type StorageRequest,
} from "./support/iam-eval.ts";
import { allResources, type Body, resolveAccount, type Synthesized, synthWith } from "./support/synth.ts";

const BUCKET = "bl-fixture-1-batch";
const CLIENTS = ["acme", "acme-eu"] as const; // "acme" is a prefix of "acme-eu": the case a sloppy prefix misses
const other = (client: string) => CLIENTS.find((c) => c !== client) as string;

interface Grant {
  stack: string;
  member: string;
  role: string;
  expression?: string;
}

let synth: Synthesized;
let grants: Grant[];

beforeAll(() => {
  synth = synthWith();
  grants = synth.stacks.flatMap((name) => {
    const stack = synth.stack(name);
    return allResources(stack)
      .filter(([type]) => type === "google_storage_bucket_iam_member")
      .filter(
        ([, , body]) => body.bucket === BUCKET || String(body.bucket).includes("google_storage_bucket."),
      )
      .map(([, , body]) => ({
        stack: name,
        member: resolveAccount(stack, body.member),
        role: String(body.role),
        expression: (body.condition as Body | undefined)?.expression as string | undefined,
      }));
  });
});

const object = (name: string): StorageRequest => ({
  type: "storage.googleapis.com/Object",
  name: `projects/_/buckets/${BUCKET}/objects/${name}`,
});
const list = (prefix?: string): StorageRequest => ({
  type: "storage.googleapis.com/Bucket",
  name: `projects/_/buckets/${BUCKET}`,
  ...(prefix === undefined ? {} : { listPrefix: prefix }),
});

/** Whether `member` may do `permission` on `request`, from the bucket grants all stacks make. */
function allowed(member: string, permission: "create" | "get" | "list", request: StorageRequest): boolean {
  return grants
    .filter((g) => g.member === member && ROLE_PERMISSIONS[g.role]?.includes(permission))
    .some((g) => g.expression === undefined || evaluateCondition(g.expression, request));
}

const isWorker = (member: string) => member.startsWith("serviceAccount:blw-");

/** Who acts for the client (uploaders, or the account made for it); its worker account is apart. */
function clientMembers(client: string): string[] {
  return [
    ...new Set(
      grants.filter((g) => g.stack === `client-${client}` && !isWorker(g.member)).map((g) => g.member),
    ),
  ];
}

/** The account the client's Batch tasks run as. */
function workerMember(client: string): string {
  const members = [
    ...new Set(
      grants.filter((g) => g.stack === `client-${client}` && isWorker(g.member)).map((g) => g.member),
    ),
  ];
  expect(members).toHaveLength(1);
  return members[0] as string;
}

describe("two clients", () => {
  it("each have principals with bucket grants", () => {
    for (const client of CLIENTS) expect(clientMembers(client).length).toBeGreaterThan(0);
  });

  it.each(CLIENTS)("%s may create only under its own inputs/", (client) => {
    for (const member of clientMembers(client)) {
      expect(allowed(member, "create", object(`shop/${client}/inputs/a.jsonl`))).toBe(true);
      expect(allowed(member, "create", object(`shop/${client}/inputs/2024/01/a.jsonl`))).toBe(true);
      for (const area of ["outputs", "runs", "errors", "claims"]) {
        expect(allowed(member, "create", object(`shop/${client}/${area}/x`))).toBe(false);
      }
      expect(allowed(member, "create", object(`shop/${other(client)}/inputs/a.jsonl`))).toBe(false);
      expect(allowed(member, "create", object(`shop/${client}-x/inputs/a.jsonl`))).toBe(false);
      expect(allowed(member, "create", object("a.jsonl"))).toBe(false);
    }
  });

  it.each(CLIENTS)("%s may read its own objects and no one else's", (client) => {
    for (const member of clientMembers(client)) {
      for (const area of ["inputs", "outputs", "runs", "errors", "claims"]) {
        expect(allowed(member, "get", object(`shop/${client}/${area}/x`))).toBe(true);
        expect(allowed(member, "get", object(`shop/${other(client)}/${area}/x`))).toBe(false);
      }
      expect(allowed(member, "get", object(`shop/${client}-x/outputs/x`))).toBe(false);
      expect(allowed(member, "get", object("other-product/x"))).toBe(false);
    }
  });

  it.each(CLIENTS)("%s may list only with a prefix inside its own folder", (client) => {
    for (const member of clientMembers(client)) {
      expect(allowed(member, "list", list(`shop/${client}/`))).toBe(true);
      expect(allowed(member, "list", list(`shop/${client}/outputs/2024/`))).toBe(true);
      expect(allowed(member, "list", list())).toBe(false);
      expect(allowed(member, "list", list(""))).toBe(false);
      expect(allowed(member, "list", list("shop/"))).toBe(false);
      expect(allowed(member, "list", list(`shop/${client}`))).toBe(false); // would also list shop/<client>-eu/
      expect(allowed(member, "list", list(`shop/${other(client)}/`))).toBe(false);
    }
  });

  it("have no condition that covers the other client's prefix", () => {
    const objectPrefix = `projects/_/buckets/${BUCKET}/objects/`;
    for (const client of CLIENTS) {
      const otherPrefix = `shop/${other(client)}/`;
      const literals = grants
        .filter((g) => g.stack === `client-${client}`)
        .flatMap((g) => {
          expect(g.expression, `${g.member} ${g.role} is unconditioned`).toBeDefined();
          return conditionLiterals(g.expression ?? "");
        })
        .map((l) => (l.startsWith(objectPrefix) ? l.slice(objectPrefix.length) : l));
      expect(literals.length).toBeGreaterThan(0);
      for (const literal of literals) {
        expect(literal.startsWith(`shop/${client}/`), literal).toBe(true);
        expect(otherPrefix.startsWith(literal), `${literal} covers ${otherPrefix}`).toBe(false);
      }
    }
  });

  it("share no principal, so one client's grants never extend another's", () => {
    const [a, b] = CLIENTS.map(clientMembers);
    expect(a?.filter((m) => b?.includes(m))).toEqual([]);
  });
});

describe("two clients' worker accounts (what their Batch tasks, whatever image they run, may do)", () => {
  it("are two different accounts", () => {
    expect(workerMember("acme")).not.toBe(workerMember("acme-eu"));
  });

  it.each(CLIENTS)("%s's worker reads its own inputs and runs, and nothing of the other client", (client) => {
    const worker = workerMember(client);
    expect(allowed(worker, "get", object(`shop/${client}/inputs/a.csv`))).toBe(true);
    expect(allowed(worker, "get", object(`shop/${client}/runs/r/manifest.json`))).toBe(true);
    for (const area of ["inputs", "outputs", "runs", "errors", "claims"]) {
      expect(allowed(worker, "get", object(`shop/${other(client)}/${area}/x`))).toBe(false);
    }
    expect(allowed(worker, "get", object(`shop/${client}-x/inputs/a`))).toBe(false);
    expect(allowed(worker, "get", object("other-product/x"))).toBe(false);
  });

  it.each(CLIENTS)("%s's worker writes only its own outputs, errors and run records", (client) => {
    const worker = workerMember(client);
    for (const area of ["outputs", "errors", "runs"]) {
      expect(allowed(worker, "create", object(`shop/${client}/${area}/x`))).toBe(true);
      expect(allowed(worker, "create", object(`shop/${other(client)}/${area}/x`))).toBe(false);
    }
    // It cannot add inputs (which would start runs) or touch claims (which settle them).
    expect(allowed(worker, "create", object(`shop/${client}/inputs/x`))).toBe(false);
    expect(allowed(worker, "create", object(`shop/${client}/claims/x`))).toBe(false);
    expect(allowed(worker, "create", object(`shop/${client}-x/outputs/x`))).toBe(false);
  });

  it.each(CLIENTS)("%s's worker cannot list the bucket, any prefix", (client) => {
    const worker = workerMember(client);
    for (const prefix of [undefined, "", "shop/", `shop/${client}/`, `shop/${other(client)}/`]) {
      expect(allowed(worker, "list", list(prefix))).toBe(false);
    }
  });

  it("no account in any stack may write under both clients' prefixes", () => {
    const members = [...new Set(grants.map((g) => g.member))];
    for (const member of members) {
      const both = CLIENTS.every((c) => allowed(member, "create", object(`shop/${c}/outputs/x`)));
      // plan and notify hold the bucket for the pipeline itself; no worker or client principal may.
      if (both) expect(member).toMatch(/bl-shop-(plan|notify)@/);
    }
  });
});

describe("the client registry (registry/<product>/<client>.json)", () => {
  it("is read by plan and notify, with the bucket grant they already hold", () => {
    const members = [...new Set(grants.map((g) => g.member))];
    for (const role of ["plan", "notify"]) {
      const member = members.find((m) => m.startsWith(`serviceAccount:bl-shop-${role}@`));
      expect(member, role).toBeDefined();
      for (const client of CLIENTS) {
        expect(allowed(member as string, "get", object(`registry/shop/${client}.json`))).toBe(true);
      }
    }
  });

  it.each(CLIENTS)("is not readable or writable by %s's principals or its worker", (client) => {
    for (const member of [...clientMembers(client), workerMember(client)]) {
      for (const id of CLIENTS) {
        expect(allowed(member, "get", object(`registry/shop/${id}.json`))).toBe(false);
        expect(allowed(member, "create", object(`registry/shop/${id}.json`))).toBe(false);
      }
      expect(allowed(member, "list", list("registry/"))).toBe(false);
    }
  });

  it("is written by Terraform in each client stack, with no grant of its own", () => {
    for (const client of CLIENTS) {
      const stack = synth.stack(`client-${client}`);
      const objects = allResources(stack).filter(([type]) => type === "google_storage_bucket_object");
      expect(objects.map(([, , body]) => body.name)).toEqual([`registry/shop/${client}.json`]);
    }
    expect(grants.filter((g) => (g.expression ?? "").includes("registry/"))).toEqual([]);
  });
});

describe("the evaluator the isolation tests rely on", () => {
  it("grants and refuses as the conditions say", () => {
    const read = clientReaderCondition(BUCKET, "shop", "acme").expression;
    const create = inputsCreatorCondition(BUCKET, "shop", "acme").expression;
    expect(evaluateCondition(read, object("shop/acme/outputs/x"))).toBe(true);
    expect(evaluateCondition(read, object("shop/acme-eu/outputs/x"))).toBe(false);
    expect(evaluateCondition(read, list("shop/acme/"))).toBe(true);
    expect(evaluateCondition(read, list("shop/"))).toBe(false);
    expect(evaluateCondition(create, object("shop/acme/inputs/x"))).toBe(true);
    expect(evaluateCondition(create, object("shop/acme/outputs/x"))).toBe(false);
  });

  it("refuses expressions it cannot read rather than guessing", () => {
    expect(() => evaluateCondition('request.time < timestamp("2030-01-01T00:00:00Z")', list())).toThrow(
      /cannot read/,
    );
  });
});

describe("every stack", () => {
  it("grants nothing to allUsers or allAuthenticatedUsers", () => {
    for (const name of synth.stacks) {
      const text = readFileSync(join(synth.outdir, "stacks", name, "cdk.tf.json"), "utf8");
      expect(text).not.toMatch(/allUsers|allAuthenticatedUsers/);
    }
  });

  it("grants no project-wide storage role except the build account's, narrowed to gcf-v2-* buckets", () => {
    const projectStorage = synth.stacks.flatMap((name) => {
      const stack = synth.stack(name);
      return allResources(stack)
        .filter(([type]) => type.startsWith("google_project_iam_"))
        .filter(([, , body]) => String(body.role ?? "").startsWith("roles/storage."))
        .map(([type, , body]) => ({ stack: name, type, member: resolveAccount(stack, body.member) }));
    });
    expect(projectStorage).toEqual([
      {
        stack: "platform",
        type: "google_project_iam_member",
        member: "serviceAccount:bl-shop-build@bl-fixture-1.iam.gserviceaccount.com",
      },
    ]);
    const clientMembersAll = CLIENTS.flatMap(clientMembers);
    for (const g of projectStorage) expect(clientMembersAll).not.toContain(g.member);
  });

  it("gives client principals no unconditioned grant on the bucket", () => {
    for (const client of CLIENTS) {
      for (const g of grants.filter((x) => x.stack === `client-${client}`))
        expect(g.expression).toBeDefined();
    }
  });
});
