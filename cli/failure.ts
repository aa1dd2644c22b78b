/**
 * One line for an error that reached the top of a command: its message, and for a failed network call the
 * address it could not reach, so the user knows which service was down.
 */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const message = err.message.split("\n")[0] ?? err.name;
  if (code === "ECONNREFUSED") {
    return `${message} (nothing answers there: is the service it names running, and do exported variables such as STORAGE_EMULATOR_HOST point at it?)`;
  }
  return message;
}
