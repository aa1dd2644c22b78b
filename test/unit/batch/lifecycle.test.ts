import { describe, expect, it } from "vitest";
import { decideOutcome } from "../../../local/batch/lifecycle.ts";
import type { LifecyclePolicyJson } from "../../../local/batch/spec.ts";

const failOn3: LifecyclePolicyJson = { action: "FAIL_TASK", actionCondition: { exitCodes: [3] } };
const retryOn50001: LifecyclePolicyJson = { action: "RETRY_TASK", actionCondition: { exitCodes: [50001] } };

describe("what a task attempt's exit code leads to", () => {
  it("exit 0 succeeds whatever the policies say", () => {
    expect(decideOutcome(0, [failOn3], 0, 3)).toBe("succeeded");
  });

  it("without policies, retries while maxRetryCount allows and then fails", () => {
    expect(decideOutcome(1, [], 0, 2)).toBe("retry");
    expect(decideOutcome(1, [], 1, 2)).toBe("retry");
    expect(decideOutcome(1, [], 2, 2)).toBe("failed");
    expect(decideOutcome(1, [], 0, 0)).toBe("failed");
  });

  it("FAIL_TASK on a listed code fails at once, retries left or not", () => {
    expect(decideOutcome(3, [failOn3], 0, 10)).toBe("failed");
  });

  it("a single FAIL_TASK policy retries every other failure (the opposite action)", () => {
    expect(decideOutcome(1, [failOn3], 0, 3)).toBe("retry");
    expect(decideOutcome(50001, [failOn3], 3, 3)).toBe("failed");
  });

  it("RETRY_TASK on a listed code retries within maxRetryCount", () => {
    expect(decideOutcome(50001, [retryOn50001], 0, 3)).toBe("retry");
    expect(decideOutcome(50001, [retryOn50001], 3, 3)).toBe("failed");
  });

  it("a single RETRY_TASK policy fails every other failure without retrying (the opposite action)", () => {
    expect(decideOutcome(1, [retryOn50001], 0, 3)).toBe("failed");
  });

  it("with RETRY_TASK and FAIL_TASK policies together, a listed code decides and others get the default retry", () => {
    const both = [retryOn50001, failOn3];
    expect(decideOutcome(3, both, 0, 3)).toBe("failed");
    expect(decideOutcome(50001, both, 0, 3)).toBe("retry");
    expect(decideOutcome(1, both, 0, 3)).toBe("retry");
    expect(decideOutcome(1, both, 3, 3)).toBe("failed");
  });

  it("a timeout (50005) is an exit code like any other for the policies", () => {
    expect(decideOutcome(50005, [failOn3], 0, 1)).toBe("retry");
    expect(
      decideOutcome(50005, [{ action: "FAIL_TASK", actionCondition: { exitCodes: [50005] } }], 0, 1),
    ).toBe("failed");
  });
});
