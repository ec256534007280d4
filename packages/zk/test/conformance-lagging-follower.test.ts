/**
 * The core conformance suite against a 3-node ensemble in which one follower
 * applies every commit LAG_MS after the quorum, with the handles of each
 * election alternating between that follower and a current server.
 * ZooKeeper lets a follower trail; elsewhere a test meets one by chance
 * (about 1 read in 200 right after another session's write, on an idle
 * ensemble). Here most such readings fail on every run: before the rule in
 * the suite's types.ts, three tests failed in each of three runs, and a
 * fourth (its writer a client that picks its server) in two. So would any
 * part of the library that trusted another session's view to be current.
 */
import { describe, expect, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { describeConformance } from '@elect/core/conformance';
import { requestedRuntime, scaled, startZooKeeper, type Cluster } from '@elect/test';
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
  const [slow, fast] = [await rawClient(lagging!.clientAddress), await rawClient(other!.clientAddress)];
  const path = `/${uniqueName('lag')}`;
  try {
    const seen = new Promise<number>((resolve, reject) =>
      slow.exists(path, () => resolve(performance.now()), (error, stat) => (error ? reject(error) : stat ? reject(new Error(`${path} exists already`)) : undefined)),
    );
    const written = await new Promise<number>((resolve, reject) =>
      fast.create(path, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, (error) => (error ? reject(error) : resolve(performance.now()))),
    );
    return (await seen) - written;
  } finally {
    slow.close();
    fast.close();
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
        expect(await lagOf(cluster)).toBeGreaterThanOrEqual(LAG_MS / 2);
      } catch (error) {
        await cluster.close();
        throw error;
      }
      return zkBackend(cluster, { alternate: true, label: `3-node ensemble, one follower ${LAG_MS} ms behind` });
    },
    {
      faults: ['expire', 'cut', 'delete'],
      teardown: (backend) => backend.cluster.close(),
      // Jest's own default (5 s) would apply: the root testTimeout does not reach projects.
      testTimeoutMs: 8 * sessionTimeoutMs + scaled(30_000),
    },
  );
}
