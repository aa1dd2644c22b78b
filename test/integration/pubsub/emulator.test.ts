import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { PubSub } from "@google-cloud/pubsub";
import { describe, expect, inject, it } from "vitest";
import { findPubsubEmulator, INSTALL_HINT, startPubsubEmulator } from "../../../local/pubsub/emulator.ts";
import { httpStatus, until } from "../../support/poll.ts";

/** True when the emulator at host:port answers its root with 200. */
async function answers(host: string): Promise<boolean> {
  return (await httpStatus(`http://${host}/`)) === 200;
}

describe("Pub/Sub emulator manager", () => {
  it("gives the integration tier an emulator the official client publishes to and pulls from", async () => {
    const host = inject("pubsubEmulatorHost");
    const pubsub = new PubSub({ projectId: "batchline-test", apiEndpoint: host, emulatorMode: true });
    const [topic] = await pubsub.createTopic(`mgr-${Date.now()}`);
    const [subscription] = await topic.createSubscription(`mgr-sub-${Date.now()}`);
    const received = new Promise<{ data: string; attributes: Record<string, string> }>((resolve) => {
      subscription.on("message", (message) => {
        message.ack();
        resolve({ data: message.data.toString(), attributes: message.attributes });
      });
    });
    await topic.publishMessage({ data: Buffer.from("hello"), attributes: { k: "v" } });
    await expect(received).resolves.toEqual({ data: "hello", attributes: { k: "v" } });
    await subscription.close();
    await pubsub.close();
  });

  it("restarts a supervised emulator that dies, on the same address, and lets the caller recreate its topics", async () => {
    let recreated = 0;
    let pubsub: PubSub | undefined;
    const emulator = await startPubsubEmulator({
      exportEnv: false,
      supervise: {
        onRestart: async () => {
          await pubsub?.createTopic("supervised");
          recreated++;
        },
      },
    });
    try {
      pubsub = new PubSub({ projectId: emulator.projectId, apiEndpoint: emulator.host, emulatorMode: true });
      await pubsub.createTopic("supervised");
      const before = emulator.pid();
      process.kill(-(before ?? 0), "SIGKILL");

      expect(await until(async () => emulator.restarts() === 1 && recreated === 1, 90_000)).toBe(true);
      expect(emulator.pid()).not.toBe(before);
      expect(await answers(emulator.host)).toBe(true);
      // The same client, unchanged, publishes to the recreated topic.
      const id = await pubsub.topic("supervised").publishMessage({ data: Buffer.from("after restart") });
      expect(id).toMatch(/^\d+$/);
    } finally {
      await pubsub?.close();
      await emulator.stop();
    }
    expect(await answers(emulator.host)).toBe(false);
  });

  it("stops the emulator with its whole process group", async () => {
    const emulator = await startPubsubEmulator({ exportEnv: false });
    expect(await answers(emulator.host)).toBe(true);
    await emulator.stop();
    expect(await answers(emulator.host)).toBe(false);
    await emulator.stop();
  });

  it("exports PUBSUB_EMULATOR_HOST for clients in the same process unless told not to", async () => {
    const before = process.env.PUBSUB_EMULATOR_HOST;
    const emulator = await startPubsubEmulator({ projectId: "exported" });
    try {
      expect(process.env.PUBSUB_EMULATOR_HOST).toBe(emulator.host);
      expect(process.env.PUBSUB_PROJECT_ID).toBe("exported");
      expect(emulator.env).toEqual({ PUBSUB_EMULATOR_HOST: emulator.host, PUBSUB_PROJECT_ID: "exported" });
    } finally {
      await emulator.stop();
      if (before === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = before;
    }
  });

  it("leaves no emulator behind when the process that started it is killed", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/pubsub/start-and-report.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const [line] = (await once(lines, "line")) as [string];
    const { host } = JSON.parse(line) as { host: string };
    expect(await answers(host)).toBe(true);
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(await until(async () => !(await answers(host)), 20_000)).toBe(true);
  });

  it("says how to install the emulator when it cannot be found", () => {
    expect(() =>
      findPubsubEmulator({ BATCHLINE_PUBSUB_EMULATOR: "/nonexistent/cloud-pubsub-emulator" }),
    ).toThrow(
      /BATCHLINE_PUBSUB_EMULATOR points at \/nonexistent\/cloud-pubsub-emulator, which does not exist/,
    );
    expect(INSTALL_HINT).toMatch(/gcloud components install pubsub-emulator/);
  });
});
