import { describe, expect, it } from "vitest";
import { InfraError } from "../../../infra/errors.ts";
import {
  ACCOUNT_ID_PATTERN,
  clientAccountId,
  fitName,
  PLATFORM_ROLES,
  parseArtifactRegistryImage,
  platformAccountId,
  triggerName,
} from "../../../infra/names.ts";
import { checkWorkflowEnv, FUNCTION_ENV_MAX_VALUE_BYTES, functionEnv } from "../../../infra/runtime-env.ts";

const LONGEST = "a23456789012345678901234"; // 24 characters, the most core's id rule allows

describe("service account ids", () => {
  it("fit GCP's rule for every role, even for the longest product id, and stay distinct", () => {
    for (const product of ["a", "demo", LONGEST]) {
      const ids = PLATFORM_ROLES.map((role) => platformAccountId(product, role));
      for (const id of ids) expect(id, id).toMatch(ACCOUNT_ID_PATTERN);
      expect(new Set(ids).size).toBe(PLATFORM_ROLES.length);
    }
  });

  it("keep clients apart from each other and from platform accounts", () => {
    expect(clientAccountId("shop", "acme")).toBe("blc-shop-acme");
    const a = clientAccountId(LONGEST, `${LONGEST.slice(0, 20)}-one`);
    const b = clientAccountId(LONGEST, `${LONGEST.slice(0, 20)}-two`);
    expect(a).toMatch(ACCOUNT_ID_PATTERN);
    expect(b).toMatch(ACCOUNT_ID_PATTERN);
    expect(a).not.toBe(b);
    // A client named after a role suffix still gets its own account.
    expect(clientAccountId("shop", "wf")).not.toBe(platformAccountId("shop", "workflow"));
  });

  it("shorten with a hash only when needed", () => {
    expect(fitName("short", 30)).toBe("short");
    const long = fitName("x".repeat(40), 30);
    expect(long).toHaveLength(30);
    expect(long).toMatch(/^x+-[0-9a-f]{6}$/);
    expect(triggerName(LONGEST, LONGEST).length).toBeLessThanOrEqual(63);
  });
});

describe("worker image references", () => {
  it("split an Artifact Registry reference", () => {
    expect(
      parseArtifactRegistryImage("europe-west2-docker.pkg.dev/my-proj-1/batchline/worker:abc123"),
    ).toEqual({
      location: "europe-west2",
      project: "my-proj-1",
      repository: "batchline",
      image: "worker",
      tag: "abc123",
    });
    expect(parseArtifactRegistryImage("europe-docker.pkg.dev/my-proj-1/repo/team/worker")).toEqual({
      location: "europe",
      project: "my-proj-1",
      repository: "repo",
      image: "team/worker",
    });
  });

  it("reject anything else", () => {
    for (const ref of ["docker.io/library/node:20", "gcr.io/my-proj-1/worker:1", "worker:latest"]) {
      expect(parseArtifactRegistryImage(ref), ref).toBeUndefined();
    }
  });
});

describe("runtime environment limits", () => {
  it("refuse a workflow env Workflows would reject", () => {
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`V${i}`, "x"]));
    expect(() => checkWorkflowEnv(many)).toThrow(InfraError);
    expect(() => checkWorkflowEnv({ GOOGLE_THING: "x" })).toThrow(/reserved prefix/);
    expect(() => checkWorkflowEnv({ WORKFLOWS_THING: "x" })).toThrow(/reserved prefix/);
    expect(() => checkWorkflowEnv({ BIG: "x".repeat(4097) })).toThrow(/BIG is longer than Workflows' 4 KiB/);
    expect(checkWorkflowEnv({ OK: "x".repeat(4096) })).toEqual({ OK: "x".repeat(4096) });
  });

  it("refuse a config too big for a Cloud Run environment variable", () => {
    const values = {
      project: "p",
      region: "r",
      product: "shop",
      bucket: "b",
      workerImage: "i",
      batchServiceAccount: "w@p.iam.gserviceaccount.com",
    };
    expect(() =>
      functionEnv({ ...values, configJson: "x".repeat(FUNCTION_ENV_MAX_VALUE_BYTES + 1) }),
    ).toThrow(/BATCHLINE_CONFIG is longer than Cloud Run's 32 KiB/);
    expect(functionEnv({ ...values, configJson: "{}" }).BATCHLINE_CONFIG).toBe("{}");
  });
});
