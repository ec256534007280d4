/**
 * The core conformance suite against a 3-node ensemble in which one follower
 * applies every commit LAG_MS after the quorum, with the handles of each
 * election alternating between that follower and a current server.
 * ZooKeeper lets a follower trail; elsewhere a test meets one by chance
 * (about 1 read in 200 right after another session's write, on an idle
 * ensemble). Here most such readings fail on every run: before the rule in
 * the suite's types.ts, three tests failed in each of four runs, and a
 * fourth (its writer a client that picks its server) in two of them. So would any
 * part of the library that trusted another session's view to be current.
 */
import { describe, expect, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { describeConformance } from '@elect/core/conformance';
import { requestedRuntime, scaled, startZooKeeper, withTimeout, type Cluster } from '@elect/test';
import { zkBackend } from './support/backend.js';
import { rawClient, sessionTimeoutMs, uniqueName } from './support/zk.js';

const LAG_MS = 200;

/**
 * How long after a write on another server the lagging one shows it: a
 * watch set there before the write fires only once the commit has arrived,
 * so no delay on our side can make this shorter than the lag.
 */
async function lagOf(cluster: Cluster): Promise<number> {
  const [lagging, , other] = cluster.members;
  const clients: zookeeper.Client[] = [];
  const path = `/${uniqueName('lag')}`;
  try {
    const slow = await rawClient(lagging!.clientAddress);
    clients.push(slow);
    const fast = await rawClient(other!.clientAddress);
    clients.push(fast);
    // The watch is set (its exists answered) before the write is sent.
    let fired = (_at: number): void => {};
    const seen = new Promise<number>((resolve) => (fired = resolve));
    await new Promise<void>((armed, reject) =>
      slow.exists(
        path,
        () => fired(performance.now()),
        (error, stat) => {
          if (error) reject(error);
          else if (stat) reject(new Error(`${path} exists already`));
          else armed();
        },
      ),
    );
    const written = await new Promise<number>((resolve, reject) =>
      fast.create(path, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, (error) => (error ? reject(error) : resolve(performance.now()))),
    );
    return (await seen) - written;
  } finally {
    for (const client of clients) client.close();
  }
}

if (requestedRuntime() === 'container') {
  describe.skip('conformance with a lagging follower: it needs the process runtime (ELECT_TEST_RUNTIME=container)', () => {
    test('skipped', () => {});
  });
} else {
  describeConformance(
    async () => {
      const cluster = await startZooKeeper({ size: 3, tickTimeMs: 200, laggingFollowerMs: LAG_MS });
      try {
        // The suite below proves something only if the follower does lag.
        expect(await withTimeout(lagOf(cluster), scaled(10_000), 'the lagging follower to show a write made elsewhere')).toBeGreaterThanOrEqual(LAG_MS / 2);
      } catch (error) {
        await cluster.close();
        throw error;
      }
      return zkBackend(cluster, { alternate: true, label: `3-node ensemble, one follower ${LAG_MS} ms behind` });
    },
    {
      // Not 'cut': a client of the lagging server waits LAG_MS longer for
      // every write, its heartbeats included, and the short-cut test's margin
      // after the heal is only a few hundred ms. Reads are what this file is for.
      faults: ['expire', 'delete'],
      teardown: (backend) => backend.cluster.close(),
      // Jest's own default (5 s) would apply: the root testTimeout does not reach projects.
      testTimeoutMs: 8 * sessionTimeoutMs + scaled(30_000),
    },
  );
}
