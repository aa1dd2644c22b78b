import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { type BatchlineConfig, loadConfig } from "../core/config/load.ts";
import { topicName } from "../core/ids.ts";
import { createLogger, type Logger } from "../core/logger.ts";
import {
  platformAccountId,
  pullSubscriptionName,
  serviceAccountEmail,
  workflowName,
} from "../core/resource-names.ts";
import { workflowEnv } from "../core/workflow-env.ts";
import { syncRegistry } from "../functions/shared/registry.ts";
import { buildWorkerBundle } from "../worker/build.ts";
import {
  type BatchLocalConfig,
  type BatchServer,
  batchLocalSchema,
  LocalBatch,
  loadBatchLocalConfig,
  startBatchServer,
} from "./batch/index.ts";
import { localConnectors } from "./connectors.ts";
import { type LocalEventarc, startLocalEventarc } from "./eventarc/index.ts";
import { type FunctionEvent, type LocalFunction, startLocalFunction } from "./functions.ts";
import { type GcsEmulator, startGcsEmulator } from "./gcs/index.ts";
import { type LoggingServer, startLoggingServer } from "./logging/index.ts";
import { type PubsubEmulator, startPubsubEmulator } from "./pubsub/emulator.ts";
import { type LocalScheduler, startLocalScheduler } from "./scheduler/index.ts";
import { type UploadResult, uploadInput } from "./upload.ts";
import { type Execution, WorkflowEngine } from "./workflows/index.ts";
import { startWorkflowsServer } from "./workflows/server.ts";

export interface LocalCloudOptions {
  /** Repository root: where `functions/`, `workflows/` and relative config paths are (default: cwd). */
  rootDir?: string;
  /** Platform and client config (default `<root>/config`). */
  configDir?: string;
  /** Local-only settings: the Batch image map and secrets (default `<root>/config/local.yaml`). */
  localConfigFile?: string;
  /** Where objects live: memory (default) or a directory that survives restarts. */
  storage?: { backend: "memory" } | { backend: "fs"; dir: string };
  /** Also serve Cloud Storage over HTTPS (for gsutil's JSON mode), with a certificate kept in `dir`. */
  storageTls?: { dir: string; port?: number };
  /** Use this running Pub/Sub emulator (host:port) instead of starting one. */
  pubsubEmulatorHost?: string;
  /** Deliver every upload event twice, to show deduplication. */
  deliverTwice?: boolean;
  /** Start each client's cron (default true). */
  schedules?: boolean;
  /** Seconds between job polls in the workflow (default 1). */
  pollSeconds?: number;
  /** Build the worker bundle the image map runs, `<root>/.batchline/worker/worker.js` (default true). */
  buildWorker?: boolean;
  /**
   * On start, run a `recovery` sweep for every client: settles runs a crash left open and picks up inputs
   * whose events were lost while nothing was running (default: with the fs backend, which outlives a crash,
   * when its bucket was there before this start).
   */
  recover?: boolean;
  /** Told when a local function dies, is restarted, or is given up on. */
  onFunctionEvent?: (event: FunctionEvent) => void;
  logger?: Logger;
}

/**
 * Variables that point clients at emulators. A shell that exported them for an earlier local cloud would
 * point this one's own clients at emulators that are gone: the local cloud uses only what it starts.
 */
export const EMULATOR_VARIABLES = [
  "STORAGE_EMULATOR_HOST",
  "PUBSUB_EMULATOR_HOST",
  "PUBSUB_PROJECT_ID",
  "BATCHLINE_WORKFLOWS_ENDPOINT",
  "BATCHLINE_BATCH_ENDPOINT",
  "BATCHLINE_LOGGING_ENDPOINT",
] as const;

/** Removes inherited emulator variables from this process, saying which; returns their names. */
export function ignoreInheritedEmulatorEnv(logger: Logger): string[] {
  const ignored: string[] = [];
  for (const name of EMULATOR_VARIABLES) {
    const value = process.env[name];
    if (value === undefined || value === "") continue;
    logger.warn(
      `ignoring ${name}=${value} from the environment: this local cloud starts its own services and uses them`,
    );
    delete process.env[name];
    ignored.push(name);
  }
  return ignored;
}

export type { UploadResult } from "./upload.ts";

export interface LocalCloud {
  config: BatchlineConfig;
  /** Variables that point the official clients and our CLI at this local cloud. */
  env: Record<string, string>;
  storage: Storage;
  pubsub: PubSub;
  engine: WorkflowEngine;
  batch: LocalBatch;
  eventarc: LocalEventarc;
  scheduler: LocalScheduler;
  workflowId: string;
  /** Cloud Storage over HTTPS, when `storageTls` asked for it: its URL and the CA certificate to trust. */
  storageTls?: { httpsUrl: string; httpsPort: number; caFile: string };
  /** The plan and notify functions, by name. */
  functions: ReadonlyMap<string, LocalFunction>;
  /** Uploads to `<product>/<client>/inputs/<path>` as a client would; Eventarc then starts a run. */
  upload(client: string, path: string, contents: string | Buffer): Promise<UploadResult>;
  /** Starts the workflow by hand with `{client, trigger: "manual"}`. */
  runManually(client: string): Execution;
  /** Every execution so far. */
  executions(): Execution[];
  /** Resolves once no delivery is pending and no execution is ACTIVE. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Boots the whole pipeline on this machine: Google's Pub/Sub emulator, our GCS emulator, the plan and notify
 * functions on functions-framework, the workflow engine running workflows/batch.workflows.yaml, the local
 * Batch runner, and Eventarc and Scheduler built from the client configs. Creates the bucket, each client's
 * topic and (when configured) its pull subscription.
 */
export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  // Everything here talks to loopback emulators only. Google's auth library would otherwise probe the GCE
  // metadata server (169.254.169.254) from this process, the functions and the tasks: turn that off.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  const logger0 = options.logger ?? createLogger({ component: "local-cloud" });
  ignoreInheritedEmulatorEnv(logger0);
  const rootDir = resolve(options.rootDir ?? process.cwd());
  const configDir = resolve(rootDir, options.configDir ?? "config");
  const logger = logger0;
  const config = loadConfig(configDir);
  const { platform } = config;
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err }, "local cloud: a part did not stop cleanly");
      }
    }
    stops.length = 0;
  };

  try {
    // The worker image runs the same bundle the Dockerfile ships; build it first (esbuild, well under a second).
    if (options.buildWorker !== false) {
      await buildWorkerBundle(resolve(rootDir, ".batchline", "worker", "worker.js"));
    }

    // Messaging.
    // Each client's topic and (when configured) its pull subscription, named as infra names them, so tools
    // written against the cloud find them here too. Again after a supervised emulator restarts.
    const createTopics = async () => {
      for (const client of config.clients.values()) {
        const topic = pubsub.topic(topicName(platform.product, client.id));
        const [topicExists] = await topic.exists();
        if (!topicExists) await topic.create();
        if (client.pullSubscription) {
          const sub = topic.subscription(pullSubscriptionName(topicName(platform.product, client.id)));
          const [subExists] = await sub.exists();
          if (!subExists) await sub.create();
        }
      }
    };
    let pubsubHost = options.pubsubEmulatorHost;
    if (!pubsubHost) {
      const emulator: PubsubEmulator = await startPubsubEmulator({
        projectId: platform.project,
        exportEnv: false,
        logger,
        // Everything it held is gone with it: recreate the topics (messages in flight are lost, as they
        // would not be on Pub/Sub itself; notify's publish retries cover the restart).
        supervise: { onRestart: () => createTopics() },
      });
      stops.push(() => emulator.stop());
      pubsubHost = emulator.host;
    }
    const pubsub = new PubSub({ projectId: platform.project, apiEndpoint: pubsubHost, emulatorMode: true });
    stops.push(() => pubsub.close());

    // Storage.
    const gcs: GcsEmulator = await startGcsEmulator({
      backend: options.storage?.backend ?? "memory",
      dir: options.storage?.backend === "fs" ? options.storage.dir : undefined,
      pubsub: { emulatorHost: pubsubHost, projectId: platform.project },
      logger: logger.child({ part: "gcs" }),
      ...(options.storageTls ? { tls: options.storageTls } : {}),
    });
    stops.push(() => gcs.stop());
    const storage = new Storage({ apiEndpoint: gcs.url, projectId: platform.project });
    const bucket = storage.bucket(platform.bucket);
    const [bucketExists] = await bucket.exists();
    if (!bucketExists) await storage.createBucket(platform.bucket, { location: platform.region });
    // The client registry, as the client stacks would deploy it: plan and notify read each client's config
    // from it. Clients no longer in the config (a restart on the same directory) are offboarded.
    const offboarded = await syncRegistry(bucket, config);
    if (offboarded.length > 0)
      logger.info({ clients: offboarded }, "registry objects of removed clients deleted");

    await createTopics();

    // Batch: tasks reach storage through the emulator.
    const localFile = resolve(rootDir, options.localConfigFile ?? "config/local.yaml");
    const batchConfig: BatchLocalConfig = existsSync(localFile)
      ? loadBatchLocalConfig(localFile)
      : batchLocalSchema.parse({});
    batchConfig.env = {
      ...batchConfig.env,
      STORAGE_EMULATOR_HOST: gcs.url,
      METADATA_SERVER_DETECTION: process.env.METADATA_SERVER_DETECTION,
    };
    const batch = new LocalBatch({
      config: batchConfig,
      configFile: localFile,
      rootDir,
      logger: logger.child({ part: "batch" }),
    });
    stops.push(() => batch.close());
    const batchServer: BatchServer = await startBatchServer(batch, { logger });
    stops.push(() => batchServer.close());
    // Cloud Logging's entries.list over the tasks' logs, as `batchline logs` reads them on GCP.
    const loggingServer: LoggingServer = await startLoggingServer(batch, { logger });
    stops.push(() => loggingServer.close());

    // The workflow engine with the storage, pubsub and batch connectors bound to the local services, and the
    // Workflow Executions API in front of it, as the official client and gcloud reach it.
    const connectors = localConnectors({
      storageEndpoint: gcs.url,
      pubsubEmulatorHost: pubsubHost,
      batchEndpoint: batchServer.url,
    });
    const engine = new WorkflowEngine({
      projectId: platform.project,
      location: platform.region,
      connectors,
      logSink: (entry) => logger.info({ workflowLog: entry }, "workflow log"),
    });
    stops.push(async () => {
      for (const e of engine.list())
        if (e.state === "ACTIVE") await engine.cancel(e.id).catch(() => undefined);
    });
    const workflowsServer = await startWorkflowsServer(engine, { logger });
    stops.push(() => workflowsServer.close());

    const env: Record<string, string> = {
      STORAGE_EMULATOR_HOST: gcs.url,
      PUBSUB_EMULATOR_HOST: pubsubHost,
      PUBSUB_PROJECT_ID: platform.project,
      BATCHLINE_WORKFLOWS_ENDPOINT: workflowsServer.url,
      BATCHLINE_BATCH_ENDPOINT: batchServer.url,
      BATCHLINE_LOGGING_ENDPOINT: loggingServer.url,
    };

    // Functions, each a functions-framework process of its own, restarted if it dies.
    const functionEnv = { ...env, BATCHLINE_CONFIG_DIR: configDir };
    const started: LocalFunction[] = [];
    for (const name of ["plan", "notify"]) {
      const fn = await startLocalFunction({
        name,
        rootDir,
        env: functionEnv,
        logger: logger.child({ part: name }),
        onEvent: options.onFunctionEvent,
      });
      stops.push(() => fn.stop());
      started.push(fn);
    }
    const [planFn, notifyFn] = started as [LocalFunction, LocalFunction];

    const workflowId = workflowName(platform.product);
    const workflowFile = resolve(rootDir, "workflows", "batch.workflows.yaml");
    engine.deploy(workflowId, readFileSync(workflowFile, "utf8"), {
      fileName: workflowFile,
      env: workflowEnv(config, {
        planUrl: planFn.url,
        notifyUrl: notifyFn.url,
        batchServiceAccount: serviceAccountEmail(
          platformAccountId(platform.product, "worker"),
          platform.project,
        ),
        pollSeconds: options.pollSeconds ?? 1,
      }),
    });

    const eventarc = startLocalEventarc({
      config,
      storage: gcs,
      deliverTwice: options.deliverTwice,
      logger: logger.child({ part: "eventarc" }),
      deliver: async (event) => {
        const execution = engine.execute(workflowId, event);
        await engine.wait(execution.id);
      },
    });
    stops.push(() => eventarc.stop());

    const scheduler = startLocalScheduler({
      config: options.schedules === false ? { ...config, clients: new Map() } : config,
      logger: logger.child({ part: "scheduler" }),
      start: async (argument) => {
        const execution = engine.execute(workflowId, argument);
        await engine.wait(execution.id);
      },
    });
    stops.push(() => scheduler.stop());

    // A restart on the same directory: settle what the last one left open, sweep what it never saw.
    // (A bucket this start created holds nothing to recover.)
    if (options.recover ?? (options.storage?.backend === "fs" && bucketExists)) {
      for (const client of config.clients.values()) {
        const execution = engine.execute(workflowId, { client: client.id, trigger: "recovery" });
        logger.info({ client: client.id, execution: execution.id }, "recovery sweep started");
      }
    }

    const cloud: LocalCloud = {
      config,
      env,
      storage,
      pubsub,
      engine,
      batch,
      eventarc,
      scheduler,
      workflowId,
      functions: new Map(started.map((f) => [f.name, f])),
      ...(gcs.httpsUrl !== undefined && gcs.httpsPort !== undefined && gcs.caFile !== undefined
        ? { storageTls: { httpsUrl: gcs.httpsUrl, httpsPort: gcs.httpsPort, caFile: gcs.caFile } }
        : {}),
      upload: (client, path, contents) =>
        uploadInput(bucket, config, client, path, contents, "application/x-ndjson"),
      runManually(client) {
        return engine.execute(workflowId, { client, trigger: "manual" });
      },
      executions: () => engine.list(workflowId),
      async idle() {
        for (;;) {
          await eventarc.idle();
          const active = engine.list(workflowId).filter((e) => e.state === "ACTIVE");
          if (active.length === 0) {
            await eventarc.idle();
            if (engine.list(workflowId).every((e) => e.state !== "ACTIVE")) return;
            continue;
          }
          await Promise.all(active.map((e) => engine.wait(e.id)));
        }
      },
      stop: stopAll,
    };
    return cloud;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A fresh subscription name for a reader of a client's topic. */
export function readerSubscriptionName(client: string): string {
  return `batchline-reader-${client}-${randomBytes(4).toString("hex")}`;
}
