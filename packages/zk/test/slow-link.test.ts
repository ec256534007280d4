/**
 * A slow link is not a broken one. A heartbeat credits the send time of an
 * earlier heartbeat answered a relay interval before it was sent, so the
 * credit moves in whole heartbeat intervals: a round trip longer than the
 * slack between the relay and those intervals costs the deadline a whole
 * interval on top of itself. The heartbeat's pace keeps that slack at
 * timeout / 8 — at the shortest timeout, 2 s, the 250 ms that callers (and
 * `elect run`) keep for round trips and late timers on top of
 * `steadyLeadMs`. Here every answer takes 1.1 s longer than it should, at a
 * 12 s timeout: within an eighth (1.5 s), beyond the twelfth (1 s) that a
 * beat every timeout / 6 left. (At a longer timeout the test has more room
 * for a busy host than at 2 s: the eighth and the twelfth are further apart.)
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { scaled, startProxy, type Cluster, type Proxy } from '@elect/test';
import { steadyLeadMs } from '@elect/zk';
import { connect, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

const timeoutMs = 12_000;
/** Added to every round trip. */
const replyDelayMs = 1_100;
/**
 * What a busy host may add on top, in this process and in the server: both
 * to a round trip (up to 1500 − 1100 ms before a beat costs a further
 * interval) and to the lead.
 */
const lateMs = 400;

let cluster: Cluster;
let proxy: Proxy;
beforeAll(async () => {
  cluster = await startServer(1);
  const member = cluster.members[0]!;
  proxy = await startProxy({ host: member.host, port: member.clientPort }, { replyDelayMs });
});
afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

describe('a slow link', () => {
  test('round trips up to timeout / 8 cost the deadline only themselves, not a further heartbeat interval', async () => {
    const connection = await connect(proxy.address, { sessionTimeoutMs: timeoutMs });
    try {
      const client = connection.current!.client;
      expect(client.negotiatedTimeoutMs).toBe(timeoutMs);
      // The link is as slow as it should be (else this test would prove nothing).
      const sent = performance.now();
      await client.heartbeat();
      expect(performance.now() - sent).toBeGreaterThanOrEqual(replyDelayMs);
      const leadership = await connection.election(uniqueName('slow-link')).campaign({ id: 'a' });
      // Fires if the deadline comes closer than the steady lead less the
      // delay and the lateness allowed: 4800 − 1100 − 400 = 3300 ms. With a
      // beat every timeout / 6 the lead fell to about
      // 4800 − 2000 − 1100 = 1700 ms.
      const tooClose = leadership.signalAhead(steadyLeadMs(timeoutMs) - replyDelayMs - lateMs);
      expect(tooClose.aborted).toBe(false);
      // Two timeouts: sixteen heartbeats, each answered 1.1 s late.
      // What is awaited is the absence of an event, so the wait is the window.
      const fired = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2 * timeoutMs);
        tooClose.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      expect({ fired, isLeader: leadership.isLeader }).toEqual({ fired: false, isLeader: true });
      await leadership.resign();
    } finally {
      await connection.close();
    }
  });
});
