// The README's example, compiled by `pnpm typecheck` and run here on the
// in-memory backend. Keep the two in sync: the README quotes the part between
// the markers.
import { expect, it } from '@jest/globals';
import { runWhileLeader, type Election } from '@elect/core';
import { MemoryServer } from '@elect/core/testing';

// --- README example start ---
/** Runs the nightly job on exactly one instance, fenced by the election's token. */
async function nightlyJob(election: Election, instance: string, shutdown: AbortSignal): Promise<number> {
  return runWhileLeader(
    election,
    async (leadership) => {
      // Hand the token to whatever we write to, so it can refuse a stale leader.
      const fence = leadership.token;
      let batches = 0;
      while (!leadership.signal.aborted && batches < 3) {
        await writeBatch({ fence, signal: leadership.signal });
        batches++;
      }
      leadership.signal.throwIfAborted(); // lost mid-way: a LeadershipLostError
      return batches;
    },
    { id: instance, rejoin: true, signal: shutdown, settleTimeoutMs: 5_000 },
  );
}
// --- README example end ---

const written: bigint[] = [];
async function writeBatch({ fence }: { fence: bigint; signal: AbortSignal }): Promise<void> {
  written.push(fence);
}

it('the README example runs on the in-memory backend', async () => {
  const server = new MemoryServer();
  const election = server.connect({ sessionTimeoutMs: 1000 }).election('nightly');
  await expect(nightlyJob(election, 'host-a', new AbortController().signal)).resolves.toBe(3);
  expect(written).toHaveLength(3);
  expect(server.keys('nightly')).toEqual([]);
  await server.close();
});
