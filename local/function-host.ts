import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { getTestServer } from "@google-cloud/functions-framework/testing";

// Serves one Cloud Function the way functions-framework's own CLI does (same express app, same request
// handling), but on the loopback interface only: the framework's CLI takes no host and listens on every
// interface, and a local cloud must not be reachable from the network.
//   node --import tsx local/function-host.ts --target=NAME --source=FILE --port=N

function flag(name: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  if (arg === undefined || arg.length === prefix.length) {
    console.error(`function-host: missing --${name}=…`);
    process.exit(2);
  }
  return arg.slice(prefix.length);
}

const target = flag("target");
const source = resolve(flag("source"));
const port = Number(flag("port"));
const host = "127.0.0.1";

// The source registers its function with functions.http(name, handler) when it is imported.
await import(pathToFileURL(source).href);
const server = getTestServer(target);
server.setTimeout(0);
server.on("error", (err) => {
  console.error(`function-host: cannot serve ${target} on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  console.log(`Serving function ${target} on http://${host}:${port}/`);
});
