import { afterAll, beforeAll, expect, it } from "vitest";
import { areaPrefix } from "../../core/naming.ts";
import { manifestShardSchema } from "../../core/runs.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { bootE2eCloud, Inbox, jsonl, listNames, type Received, readObject } from "./support.ts";

// Several clients, each with its own maxConcurrentJobs and priority, get a burst of uploads at the same time.
// What the local Batch saw (its job list and job state changes) shows the limits held and the priority
// arrived; the bucket and the topics show every input processed once and one message per run.

let cloud: LocalCloud;
const inbox = new Inbox();
const P = "shop";
const CLIENTS = {
  wide: { uploads: 14, maxConcurrentJobs: 2, priority: 80 },
  narrow: { uploads: 10, maxConcurrentJobs: 1, priority: 5 },
};
type ClientId = keyof typeof CLIENTS;
/** Jobs of each client that are not in a final state, at every job state change; and the most at once. */
const live = new Map<ClientId, Set<string>>();
const most = new Map<ClientId, number>();

function clientOfJob(job: string): ClientId | null {
  const id = job.split("/").pop() ?? "";
  for (const client of Object.keys(CLIENTS) as ClientId[])
    if (id.startsWith(`bl-${P}-${client}-`)) return client;
  return null;
}

beforeAll(async () => {
  cloud = await bootE2eCloud();
  await inbox.watch(cloud, Object.keys(CLIENTS));
  cloud.batch.onJobEvent((e) => {
    const client = clientOfJob(e.job);
    if (client === null) return;
    const set = live.get(client) ?? new Set<string>();
    if (e.state === "SUCCEEDED" || e.state === "FAILED" || e.state === "DELETION_IN_PROGRESS")
      set.delete(e.job);
    else set.add(e.job);
    live.set(client, set);
    most.set(client, Math.max(most.get(client) ?? 0, set.size));
  });
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
});

/** Takes messages until they account for `inputs` processed inputs (each run's message counted once). */
async function messagesFor(client: ClientId, inputs: number): Promise<Received[]> {
  const taken: Received[] = [];
  let done = 0;
  while (done < inputs) {
    const [m] = await inbox.next(client, 1, 120_000);
    if (m === undefined) break;
    taken.push(m);
    done += m.body.counts.succeeded + m.body.counts.failed;
  }
  return taken;
}

it("processes a burst of several clients at once: every input once, one message per run, each client within its maxConcurrentJobs, with its priority", async () => {
  // Each client's burst arrives in waves while its earlier jobs still run, so without the limit jobs would pile up.
  await Promise.all(
    (Object.entries(CLIENTS) as [ClientId, (typeof CLIENTS)[ClientId]][]).map(async ([client, c]) => {
      for (let i = 0; i < c.uploads; i += 2) {
        await Promise.all(
          [i, i + 1]
            .filter((n) => n < c.uploads)
            .map((n) =>
              cloud.upload(client, `burst/${String(n).padStart(2, "0")}.jsonl`, jsonl([`record ${n}`])),
            ),
        );
        await new Promise((r) => setTimeout(r, 400));
      }
    }),
  );

  const parent = `projects/${cloud.config.platform.project}/locations/${cloud.config.platform.region}`;
  for (const [client, c] of Object.entries(CLIENTS) as [ClientId, (typeof CLIENTS)[ClientId]][]) {
    const received = await messagesFor(client, c.uploads);
    for (const m of received) expect(m.body.status, JSON.stringify(m.body)).toBe("SUCCEEDED");
    expect(received.reduce((n, m) => n + m.body.counts.succeeded, 0)).toBe(c.uploads);

    // One message per run, and a run (a job) for every message.
    const runIds = received.map((m) => m.body.runId);
    expect(new Set(runIds).size).toBe(runIds.length);
    const jobs = cloud.batch.listJobs(parent).jobs.filter((j) => clientOfJob(j.name ?? "") === client);
    expect(new Set(jobs.map((j) => (j.name ?? "").split("/").pop()))).toEqual(
      new Set(received.map((m) => m.body.jobId)),
    );

    // Every input in exactly one run's manifest, and its output written.
    const runsOf = new Map<string, string[]>();
    for (const runId of runIds) {
      for (const shard of await listNames(cloud, `${areaPrefix(P, client, "runs")}${runId}/manifest/`)) {
        for (const input of manifestShardSchema.parse(JSON.parse(await readObject(cloud, shard))).inputs) {
          runsOf.set(input.object, [...(runsOf.get(input.object) ?? []), runId]);
        }
      }
    }
    expect(runsOf.size).toBe(c.uploads);
    expect([...runsOf.values()].every((r) => r.length === 1)).toBe(true);
    expect(await listNames(cloud, areaPrefix(P, client, "outputs"))).toHaveLength(c.uploads);
    // Limits and priority as Batch saw them.
    expect(most.get(client) ?? 0).toBeGreaterThan(0);
    expect(most.get(client) ?? 0).toBeLessThanOrEqual(c.maxConcurrentJobs);
    for (const job of jobs) expect(Number(job.priority ?? 0)).toBe(c.priority);
    // Nothing left waiting in the index.
    expect(await listNames(cloud, areaPrefix(P, client, "pending"))).toEqual([]);
  }
  await cloud.idle();
  for (const client of Object.keys(CLIENTS)) expect(await inbox.untaken(client)).toEqual([]);
});
