import { describe, expect, it } from "vitest";
import { describeFailure } from "../../../cli/failure.ts";

describe("a command's last error, as a user reads it", () => {
  it("is the first line of the message, never a stack", () => {
    const err = new Error("bucket missing\n    at somewhere (file.ts:1:1)");
    expect(describeFailure(err)).toBe("bucket missing");
  });

  it("says what to check when nothing answers at an address", () => {
    const err = Object.assign(
      new Error("request to http://127.0.0.1:1/b failed, reason: connect ECONNREFUSED"),
      {
        code: "ECONNREFUSED",
      },
    );
    expect(describeFailure(err)).toMatch(
      /^request to http:\/\/127\.0\.0\.1:1\/b failed.*nothing answers there/,
    );
  });

  it("prints what is not an Error as it is", () => {
    expect(describeFailure("plain")).toBe("plain");
  });
});

describe("how a local function ended, as local up prints it", () => {
  it("names the signal, also when the guard shell reports it as 128 + N", async () => {
    const { describeExit } = await import("../../../local/functions.ts");
    expect(describeExit(null, "SIGKILL")).toBe("killed by SIGKILL");
    expect(describeExit(137, null)).toBe("killed by SIGKILL");
    expect(describeExit(143, null)).toBe("killed by SIGTERM");
    expect(describeExit(1, null)).toBe("exit code 1");
  });
});
