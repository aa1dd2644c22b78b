import { defineConfig } from "vitest/config";

// Tiers by name: unit tests are pure logic; integration tests talk to the local cloud
// (our GCS emulator, Google's Pub/Sub emulator, our workflow engine) started once in globalSetup.
// Tests talk only to loopback emulators. Without this, Google's auth library probes the GCE metadata server
// (169.254.169.254), which is off this machine: never let a test send traffic there.
const env = { METADATA_SERVER_DETECTION: "none" };
// Tests are quiet when green: console output (which is where core/logger writes under vitest) is captured per
// test and printed only for a test that fails.
const silent = "passed-only" as const;
// Process warnings too: Node prints them past the console, so test/setup/warnings.ts sends them through it.
const setupFiles = ["test/setup/warnings.ts"];

export default defineConfig({
  test: {
    silent,
    projects: [
      {
        test: {
          name: "unit",
          env,
          setupFiles,
          include: ["test/unit/**/*.test.ts"],
          // Tiers run one after another (unit, integration, e2e): two cores, and each tier sizes its own workers.
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          env,
          setupFiles,
          include: ["test/integration/**/*.test.ts"],
          sequence: { groupOrder: 1 },
          globalSetup: ["test/setup/pubsub-emulator.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores: integration files share one Pub/Sub emulator and spawn servers; keep them few at once.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e",
          env,
          setupFiles,
          include: ["test/e2e/**/*.test.ts"],
          sequence: { groupOrder: 2 },
          globalSetup: ["test/setup/pubsub-emulator.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
