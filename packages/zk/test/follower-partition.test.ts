/**
 * The safety model against the fault that reads cannot see (process runtime,
 * root, network namespaces): our leader's client is connected to a follower,
 * and that follower is cut off from the rest of the ensemble. The follower
 * keeps answering reads from its own copy for up to syncLimit ticks, while
 * the quorum leader — which alone expires sessions — stops hearing of our
 * session, expires it, and lets the next candidate lead. Our leader must have
 * given up before that: its deadline may only count contact that the quorum
 * leader has provably seen (see the zk README's safety section).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { NetworkNamespace, partitionSkipReason, scaled, startZooKeeper, type Member, type ProcessCluster } from '@elect/test';
import type { Leadership } from '@elect/core';
import { connect, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

const skipReason = partitionSkipReason();
if (skipReason !== undefined) console.warn(`follower partition tests skipped: ${skipReason}`);
const suite = skipReason === undefined ? describe : describe.skip;

/** When `leadership` was lost (Date.now()), waiting as long as it takes. */
function lossOf(leadership: Leadership): Promise<number> {
  return new Promise((resolve) => {
    if (leadership.signal.aborted) resolve(Date.now());
    else leadership.signal.addEventListener('abort', () => resolve(Date.now()), { once: true });
  });
}

suite('a follower cut off from the quorum', () => {
  let ns: NetworkNamespace;
  let cluster: ProcessCluster;
  beforeAll(async () => {
    ns = await NetworkNamespace.create();
    // syncLimit 8 at this tick: the cut-off follower answers reads for ~2 s
    // after the cut, most of the session timeout below.
    cluster = await startZooKeeper({ size: 3, tickTimeMs: 250, netns: ns });
  });
  afterAll(async () => {
    await ns?.heal();
    await cluster?.close();
    await ns?.close();
  });

  const address = (member: Member): string => cluster.endpoints[cluster.members.indexOf(member as never)]!;

  test("our leader, connected to it, gives up before the quorum leader expires its session and elects the next", async () => {
    await cluster.waitServing();
    const serverLeader = await cluster.serverLeader();
    const follower = cluster.members.find((member) => member !== serverLeader)!;
    const majority = cluster.members.filter((member) => member !== follower);
    const sessionTimeoutMs = scaled(3000);
    // Only the follower in its connect string: it stays there, as a client
    // does whose server has not told it anything is wrong.
    const cutOff = await connect(address(follower), { sessionTimeoutMs });
    const other = await connect(majority.map(address).join(','), { sessionTimeoutMs });
    try {
      const name = uniqueName('follower-cut');
      const leadership = await cutOff.election(name).campaign({ id: 'cut-off' });
      const next = other.election(name).campaign({ id: 'successor' });
      const lost = lossOf(leadership);
      const cutAt = Date.now();
      await ns.isolate(follower);
      const successor = await next;
      const electedAt = Date.now();
      const lostAt = await lost;
      if (process.env.ELECT_TEST_VERBOSE) console.log({ lostAfter: lostAt - cutAt, electedAfter: electedAt - cutAt, sessionTimeoutMs });
      // At most one leader: ours let go before the successor was elected.
      expect(lostAt).toBeLessThan(electedAt);
      expect((leadership.signal.reason as { reason?: string }).reason).toBe('deadline');
      expect(successor.token).toBeGreaterThan(leadership.token);
      await ns.heal();
      await successor.resign();
    } finally {
      await ns.heal();
      await Promise.all([cutOff.close(), other.close()]);
    }
  });
});
