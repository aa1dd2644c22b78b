// Workflows engine throughput: simple assign steps per second, with and without variable memory accounting.
// Run: npm run bench:workflows   (node --import tsx bench/workflows.ts [steps])
import { parseWorkflow, runWorkflow } from "../local/workflows/index.ts";

const STEPS = Number(process.argv[2] ?? 1_000_000);

// Two loops: a for over a range (one assign step per iteration) and a switch/next loop (a switch step and
// an assign step per round), both incrementing a counter held in main's scope.
const FOR_RANGE = `
main:
  params: [args]
  steps:
    - init:
        assign:
          - counter: 0
    - loop:
        for:
          value: i
          range: [1, "\${args.n}"]
          steps:
            - inc:
                assign:
                  - counter: \${counter + 1}
    - done:
        return: \${counter}
`;

// Same loop, but the counter lives in a map next to a 1 KB string (passed in the argument), so every step
// assigns into a compound value and memory accounting has to size what it replaces and what it stores.
const FOR_RANGE_MAP = `
main:
  params: [args]
  steps:
    - init:
        assign:
          - state:
              counter: 0
              blob: \${args.blob}
    - loop:
        for:
          value: i
          range: [1, "\${args.n}"]
          steps:
            - inc:
                assign:
                  - state.counter: \${state.counter + 1}
    - done:
        return: \${state.counter}
`;

const SWITCH_NEXT = `
main:
  params: [args]
  steps:
    - init:
        assign:
          - counter: 0
    - check:
        switch:
          - condition: \${counter >= args.n}
            next: done
    - inc:
        assign:
          - counter: \${counter + 1}
        next: check
    - done:
        return: \${counter}
`;

interface Row {
  loop: string;
  accounting: boolean;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
}

async function measure(loop: string, source: string, n: number, accounting: boolean): Promise<Row> {
  const program = parseWorkflow(source, { fileName: `${loop}.yaml` });
  const limits = { maxSteps: Number.MAX_SAFE_INTEGER, accountMemory: accounting };
  // Warm up the JIT on a short run first.
  const blob = "x".repeat(1024);
  await runWorkflow(program, { argument: { n: 20_000, blob }, limits, logSink: () => {} });
  const t0 = process.hrtime.bigint();
  const rec = await runWorkflow(program, { argument: { n, blob }, limits, logSink: () => {} });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (rec.state !== "SUCCEEDED" || rec.result !== n) {
    throw new Error(`${loop}: expected result ${n}, got ${JSON.stringify(rec)}`);
  }
  return {
    loop,
    accounting,
    steps: rec.stepCount,
    seconds,
    stepsPerSecond: Math.round(rec.stepCount / seconds),
  };
}

const rows: Row[] = [];
for (const accounting of [true, false]) {
  rows.push(await measure("for-range", FOR_RANGE, STEPS, accounting));
  rows.push(await measure("for-range-map", FOR_RANGE_MAP, STEPS, accounting));
  // The switch/next loop runs two steps per round; halve the rounds for a similar step count.
  rows.push(await measure("switch-next", SWITCH_NEXT, Math.round(STEPS / 2), accounting));
}

console.log(`node ${process.version}, ${new Date().toISOString()}`);
console.log("loop           accounting  steps      seconds  steps/s");
for (const r of rows) {
  console.log(
    `${r.loop.padEnd(14)} ${String(r.accounting).padEnd(11)} ${String(r.steps).padEnd(10)} ${r.seconds.toFixed(3).padEnd(8)} ${r.stepsPerSecond.toLocaleString("en-US")}`,
  );
}
