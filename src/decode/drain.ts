/**
 * Run a generator to its end and return what it returns (the decode loops yield events and
 * return their final result; callers that do not stream only want the latter).
 */
export async function returnValue<R>(it: AsyncGenerator<unknown, R>): Promise<R> {
  for (;;) {
    const n = await it.next();
    if (n.done) return n.value;
  }
}
