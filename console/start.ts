import { operatorCloud } from "../cli/operate/cloud.ts";
import type { BatchlineConfig } from "../core/config/load.ts";
import { topicName } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { LocalCloud } from "../local/cloud.ts";
import { TopicRecorder } from "./messages.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";
import { operatorSource } from "./source.ts";

export interface RunningConsole extends ConsoleServer {
  /** Where the console reads from, for messages. */
  target: string;
  /** Stops the server, then closes its clients and deletes its subscriptions. */
  stop(): Promise<void>;
}

export interface ConsoleListen {
  host?: string;
  port?: number;
  pollMs?: number;
  logger: Logger;
}

/**
 * The console of a running local cloud: the operator data layer pointed at the local cloud's endpoints, a
 * recorder of every client topic's messages, and the actions (upload, manual run, retry).
 */
export async function startLocalConsole(cloud: LocalCloud, listen: ConsoleListen): Promise<RunningConsole> {
  const operator = operatorCloud(cloud.config, cloud.env);
  const recorder = new TopicRecorder(cloud.pubsub, listen.logger);
  try {
    const { product } = cloud.config.platform;
    await recorder.start(new Map([...cloud.config.clients.keys()].map((c) => [c, topicName(product, c)])));
    const server = await startConsoleServer({
      ...listen,
      source: operatorSource({ cloud: operator, local: { recorder } }),
    });
    return {
      ...server,
      target: operator.target,
      async stop() {
        await server.close();
        await recorder.stop();
        await operator.close();
      },
    };
  } catch (err) {
    await recorder.stop();
    await operator.close();
    throw err;
  }
}

/**
 * The read-only console for GCP (or whatever the environment's endpoint variables point at): the same data
 * layer as the operator commands, with Application Default Credentials; no actions.
 */
export async function startReadOnlyConsole(
  config: BatchlineConfig,
  env: NodeJS.ProcessEnv,
  listen: ConsoleListen,
): Promise<RunningConsole> {
  const operator = operatorCloud(config, env);
  try {
    const server = await startConsoleServer({
      ...listen,
      source: operatorSource({ cloud: operator, local: null }),
    });
    return {
      ...server,
      target: operator.target,
      async stop() {
        await server.close();
        await operator.close();
      },
    };
  } catch (err) {
    await operator.close();
    throw err;
  }
}
