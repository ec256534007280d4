/**
 * The command `elect run` supervises in the soak: it writes to the fenced
 * store with its ELECT_TOKEN until it is told to stop. SIGTERM: it tells the
 * store its term is over, then exits 143. SIGKILL (from `elect`, or from the
 * watchdog): the kernel closes its connection, which ends the term too.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { StoreClient, now } from './store.js';

const startedAt = now();
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop.abort(signal));

async function main(): Promise<void> {
  const id = process.env.ELECT_ID ?? 'unknown';
  const token = BigInt(process.env.ELECT_TOKEN ?? '0');
  const store = new StoreClient(process.env.CHAOS_STORE ?? '');
  const every = Number(process.env.CHAOS_WRITE_EVERY_MS ?? '20');
  // The command cannot know when `elect` was elected: its own start is the
  // earliest moment it can claim (later than the election, never earlier).
  await store.hello(id, token, startedAt);
  for (let seq = 1; !stop.signal.aborted; seq++) {
    await store.write(seq);
    await delay(every, undefined, { signal: stop.signal }).catch(() => {});
  }
  await store.bye();
}

main().then(
  () => process.exit(143),
  (error: unknown) => {
    process.stderr.write(`worker: ${String(error)}\n`);
    process.exit(1);
  },
);
