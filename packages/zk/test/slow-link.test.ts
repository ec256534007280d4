/**
 * A slow link is not a broken one. A heartbeat credits the send time of an
 * earlier heartbeat answered a relay interval before it was sent, so the
 * credit moves in whole heartbeat intervals: a round trip longer than the
 * slack between the relay and those intervals costs the deadline a whole
 * interval on top of itself. The heartbeat's pace keeps that slack at
 * timeout / 8 — at the shortest timeout, 2 s, the 250 ms that callers (and
 * `elect run`) keep for round trips and late timers on top of
 * `steadyLeadMs`. Here every answer takes 200 ms longer than it should.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { scaled, startProxy, type Cluster, type Proxy } from '@elect/test';
import { steadyLeadMs } from '@elect/zk';
import { connect, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(60_000));

/** The shortest session timeout the CLI allows (tickTime 200: ZooKeeper grants 400 ms to 4 s). */
const timeoutMs = 2_000;
/** Added to every round trip: more than a twelfth of the timeout (166 ms), less than an eighth (250 ms). */
const replyDelayMs = 200;
/** What a busy host may add on top, in this process and in the server. */
const lateMs = 150;

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
      expect(connection.current!.client.negotiatedTimeoutMs).toBe(timeoutMs);
      const leadership = await connection.election(uniqueName('slow-link')).campaign({ id: 'a' });
      // Fires if the deadline comes closer than the steady lead less the
      // delay and the lateness allowed. With a beat every timeout / 6 the
      // lead fell to about 800 − 333 − 200 ms = 267 ms, under 450 ms.
      const tooClose = leadership.signalAhead(steadyLeadMs(timeoutMs) - replyDelayMs - lateMs);
      expect(tooClose.aborted).toBe(false);
      // Three timeouts: some forty heartbeats, each answered 200 ms late.
      // What is awaited is the absence of an event, so the wait is the window.
      const fired = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3 * timeoutMs);
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
