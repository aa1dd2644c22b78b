import type { TestProject } from "vitest/node";
import { startPubsubEmulator } from "../../local/pubsub/emulator.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pubsubEmulatorHost: string;
  }
}

/** One Pub/Sub emulator for the whole integration tier; stopped with its process tree afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The emulator's clients must never probe the GCE metadata server (off this machine).
  process.env.METADATA_SERVER_DETECTION = "none";
  const emulator = await startPubsubEmulator({ projectId: "batchline-test" });
  project.provide("pubsubEmulatorHost", emulator.host);
  return () => emulator.stop();
}
