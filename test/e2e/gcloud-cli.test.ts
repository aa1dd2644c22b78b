import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { topicName } from "../../core/ids.ts";
import { resultMessageV1Schema } from "../../core/messages.ts";
import { areaPrefix } from "../../core/naming.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { type CliConfig, findOnPath, googleCliConfig, mustRun } from "../integration/gcs/google-cli.ts";
import { tempDir } from "../support/temp.ts";
import { bootE2eCloud, jsonl } from "./support.ts";

// The whole pipeline fed and read only with Google's CLI, as a client would do it by hand: the input
// goes up with `gcloud storage cp`, the result message comes back with `gcloud pubsub subscriptions
// pull`, and the output is read with `gcloud storage cat`.

const GCLOUD = findOnPath("gcloud");
const CLIENT = "one";

if (!GCLOUD) {
  describe("the pipeline driven with gcloud", () => {
    test("is not run: gcloud is not installed", () => {
      console.warn(
        "gcloud pipeline test not run: gcloud not found on PATH (install the Google Cloud SDK to run it)",
      );
      expect(GCLOUD).toBeUndefined();
    });
  });
} else {
  let cloud: LocalCloud;
  let cli: CliConfig;
  let work: string;
  const gcloud = (args: string[]) => mustRun(GCLOUD, args, cli.gcloud);

  beforeAll(async () => {
    cloud = await bootE2eCloud();
    work = tempDir("e2e-gcloud-");
    cli = googleCliConfig({
      dir: work,
      project: cloud.config.platform.project,
      storageUrl: cloud.env.STORAGE_EMULATOR_HOST as string,
      pubsubHost: cloud.env.PUBSUB_EMULATOR_HOST as string,
    });
  });

  afterAll(async () => {
    await cloud?.stop();
  });

  describe("the pipeline driven with gcloud", () => {
    test("gcloud storage cp in, gcloud pubsub subscriptions pull out", async () => {
      const P = cloud.config.platform.product;
      const bucket = cloud.config.platform.bucket;
      const subscription = `gcloud-e2e-${process.pid}`;
      await gcloud(["pubsub", "subscriptions", "create", subscription, `--topic=${topicName(P, CLIENT)}`]);

      const file = join(work, "day 1.jsonl");
      writeFileSync(file, jsonl(["gcloud", "fed", "this"]));
      const object = `${areaPrefix(P, CLIENT, "inputs")}by-cli/day 1.jsonl`;
      await gcloud(["storage", "cp", file, `gs://${bucket}/${object}`]);
      await cloud.idle();

      let received: Array<{ message: { data: string; attributes?: Record<string, string> } }> = [];
      const deadline = Date.now() + 60_000;
      while (received.length === 0 && Date.now() < deadline) {
        const r = await gcloud([
          "pubsub",
          "subscriptions",
          "pull",
          subscription,
          "--auto-ack",
          "--limit=10",
          "--format=json",
        ]);
        received = JSON.parse(r.stdout || "[]");
      }
      expect(received.length).toBe(1);
      const [pulled] = received;
      const body = resultMessageV1Schema.parse(
        JSON.parse(Buffer.from(pulled?.message.data ?? "", "base64").toString("utf8")),
      );
      expect(pulled?.message.attributes).toMatchObject({
        status: "SUCCEEDED",
        client: CLIENT,
        trigger: "event",
      });
      expect(body).toMatchObject({
        status: "SUCCEEDED",
        counts: { inputs: 1, succeeded: 1, failed: 0, records: 3 },
        trigger: { type: "event", object },
      });

      const output = await gcloud([
        "storage",
        "cat",
        `gs://${bucket}/${areaPrefix(P, CLIENT, "outputs")}by-cli/day 1.jsonl`,
      ]);
      expect(output.stdout).toBe(jsonl(["GCLOUD", "FED", "THIS"]));
      await gcloud(["pubsub", "subscriptions", "delete", subscription]);
    });
  });
}
