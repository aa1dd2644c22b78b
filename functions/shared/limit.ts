/** How many storage requests one call keeps in flight: enough for 1,000+ inputs in seconds, not a flood. */
export const STORAGE_CONCURRENCY = 16;

/**
 * Maps `items` through `fn` with at most `limit` calls running at once; results keep the input order. The
 * first rejection rejects the whole map once the calls already started have settled, so no write is left
 * running unobserved behind an error.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
