// The README's example, type-checked by `pnpm typecheck` (as a README block)
// and run here against a real server. Keep the two in sync: the README quotes
// the part between the markers.
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { runWhileLeader } from '@elect/core';
import { scaled, type Cluster } from '@elect/test';
import { connectZooKeeper } from '@elect/zk';
import { children, rawClient, startServer } from './support/zk.js';

jest.setTimeout(scaled(60_000));

const charged: bigint[] = [];
async function chargeCards({ fence }: { fence: bigint; signal: AbortSignal }): Promise<void> {
  charged.push(fence);
}

// --- README example start ---
/** Charges cards on exactly one instance; JVM services with a LeaderLatch on the same path take turns with us. */
export async function billingLeader(connectString: string, instance: string, shutdown: AbortSignal): Promise<void> {
  await using zk = await connectZooKeeper({ connectString, sessionTimeoutMs: 10_000 });
  const election = zk.election('/services/billing/leader');
  await runWhileLeader(election, (leadership) => chargeCards({ fence: leadership.token, signal: leadership.signal }), {
    id: instance,
    rejoin: true,
    signal: shutdown,
  });
}
// --- README example end ---

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startServer(1);
});
afterAll(async () => {
  await cluster?.close();
});

test('the README example runs against a real server and leaves nothing behind', async () => {
  await billingLeader(cluster.connectString, 'host-a', new AbortController().signal);
  expect(charged).toHaveLength(1);
  const client = await rawClient(cluster.connectString);
  expect(await children(client, '/services/billing/leader')).toEqual([]);
  client.close();
});
