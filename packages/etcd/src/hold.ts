/**
 * Keeps the process alive while someone awaits a connect, a campaign or the
 * next value of observe() / events(). gRPC holds the event loop only while it
 * has a connection: while etcd cannot be reached, what they wait on (the next
 * lease, a backoff) runs on unref'd timers, and a process with nothing else
 * to do would exit in the middle of its `await`. (ZooKeeper's client keeps
 * retrying on a socket that holds the loop, so that backend needs none.)
 */
export function holdProcess(): () => void {
  const timer = setInterval(() => {}, 2 ** 30);
  return () => clearInterval(timer);
}

/** `iterable`, holding the process while a `next()` is pending. */
export function holding<T>(iterable: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = iterable[Symbol.asyncIterator]();
      return {
        async next(): Promise<IteratorResult<T>> {
          const release = holdProcess();
          try {
            return await inner.next();
          } finally {
            release();
          }
        },
        return: async (value?: unknown): Promise<IteratorResult<T>> => (await inner.return?.(value)) ?? { done: true, value: undefined },
      };
    },
  };
}
