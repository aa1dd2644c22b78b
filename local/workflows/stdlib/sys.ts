import { raise } from "../errors.ts";
import { toPlain, type Value } from "../values.ts";
import { argNumber, argString, seconds } from "./args.ts";
import { parseTime } from "./pure.ts";
import type { FunctionDef } from "./types.ts";

// Blocking members of `sys` (docs, "Standard library > sys"): call steps only.

const SEVERITIES = [
  "DEFAULT",
  "DEBUG",
  "INFO",
  "NOTICE",
  "WARNING",
  "ERROR",
  "CRITICAL",
  "ALERT",
  "EMERGENCY",
];

function logPayload(v: Value): unknown {
  try {
    return toPlain(v);
  } catch {
    return raise("TypeError", "sys.log: bytes cannot be logged; decode or base64-encode them first");
  }
}

export const SYS_BLOCKING: FunctionDef[] = [
  {
    name: "sys.log",
    params: ["data", "severity", "text", "json", "timeout"],
    required: 0,
    blocking: true,
    fn: (a, exec) => {
      const [data, severity, text, json] = a;
      const given = [data, text, json].filter((v) => v !== undefined).length;
      if (given !== 1) raise("TypeError", "sys.log: give exactly one of data, text or json");
      const sev =
        severity === undefined ? "DEFAULT" : argString("sys.log", "severity", severity).toUpperCase();
      if (!SEVERITIES.includes(sev))
        raise("ValueError", `sys.log: unknown severity ${JSON.stringify(severity)}`);
      let payload: unknown;
      if (text !== undefined) payload = typeof text === "string" ? text : logPayload(text as Value);
      else if (json !== undefined) payload = logPayload(json as Value);
      else payload = logPayload(data as Value);
      exec.log({
        severity: sev,
        payload,
        time: new Date(exec.clock.now()).toISOString(),
        executionId: exec.executionId,
        step: exec.currentStep,
      });
      return null;
    },
  },
  {
    name: "sys.sleep",
    params: ["seconds"],
    required: 1,
    blocking: true,
    fn: async (a, exec) => {
      const s = seconds(argNumber("sys.sleep", "seconds", a[0]));
      if (!(s >= 0)) raise("ValueError", "sys.sleep: seconds must not be negative");
      await exec.sleep(s * 1000);
      return null;
    },
  },
  {
    name: "sys.sleep_until",
    params: ["time"],
    required: 1,
    blocking: true,
    fn: async (a, exec) => {
      const until = parseTime("sys.sleep_until", a[0]);
      await exec.sleep(Math.max(0, until * 1000 - exec.clock.now()));
      return null;
    },
  },
];
