/**
 * The error of type `type` that `fn` throws. Fails the test when `fn` returns, and rethrows any other error,
 * so a test that inspects an error's fields never passes on the wrong one.
 */
// biome-ignore lint/suspicious/noExplicitAny: any constructor of an error type
export function thrownBy<E extends Error>(type: new (...args: any[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}`);
}
