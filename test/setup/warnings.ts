// Process warnings in a test worker (MaxListenersExceededWarning, deprecations, …) go to the console, which
// vitest captures per test: a failing test shows the warnings it raised, a green run prints none.
// Node's own handler writes them straight to stderr, past the runner, so it is replaced here, not kept beside.
// The one that shows up today is the official storage client's: each createReadStream()/download() adds
// listeners to a shared PassThrough (googleapis/google-cloud-node#9185), and the GCS conformance tests must
// download through that client. Our own code reads objects through core/object-read.ts, which does not.
for (const listener of process.listeners("warning")) {
  if (listener.name === "onWarning") process.removeListener("warning", listener);
}
process.on("warning", (warning) => {
  console.error(`${warning.name}: ${warning.message}`);
});
