/**
 * ZooKeeper re-negotiates the session timeout on every reconnect, and the
 * members of an ensemble may grant different ones (tickTime,
 * maxSessionTimeout). When a reconnect lands on a member that grants less,
 * the server now expires the session sooner: our deadline must follow at
 * once, or it would outlive the session.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { proxyCluster, scaled, startZooKeeper, waitUntil, type Cluster, type ClusterProxies } from '@elect/test';
import { RecordingLogger, connect, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

// zk1 grants sessions up to 8 s, zk2 and zk3 up to 4 s.
const longMs = 8000;
const shortMs = 4000;

let cluster: Cluster;
let proxies: ClusterProxies;
beforeAll(async () => {
  cluster = await startZooKeeper({ size: 3, tickTimeMs: 200, members: [{ maxSessionTimeoutMs: longMs }] , maxSessionTimeoutMs: shortMs });
  proxies = await proxyCluster(cluster);
});
afterAll(async () => {
  await proxies?.close();
  await cluster?.close();
});

describe('a session timeout re-negotiated on reconnect', () => {
  test('a shorter one applies to the loss deadline at once', async () => {
    const [first, ...rest] = proxies.proxies;
    // Only zk1 can be reached: the session is granted the long timeout there.
    for (const proxy of rest) proxy.cut();
    const logger = new RecordingLogger();
    const connection = await connect(proxies.connectString, { sessionTimeoutMs: longMs, logger });
    try {
      const session = connection.current!;
      expect(session.client.negotiatedTimeoutMs).toBe(longMs);
      const leadership = await connection.election(uniqueName('renegotiated')).campaign({ id: 'a' });
      expect(leadership.deadline - session.liveness.deadline.lastContact).toBeGreaterThan(shortMs);
      expect(leadership.timeoutMs).toBe(longMs);

      // zk1 goes away for this client; the library re-attaches the session elsewhere.
      for (const proxy of rest) proxy.heal();
      first!.cut();
      await waitUntil(() => session.client.isConnected && session.client.negotiatedTimeoutMs === shortMs, {
        timeoutMs: longMs,
        what: 'the session re-attached on a member granting the short timeout',
      });
      expect(connection.current).toBe(session); // the same session, not a fresh one
      expect(session.liveness.deadline.timeoutMs).toBe(shortMs);
      expect(leadership.timeoutMs).toBe(shortMs);
      expect(leadership.deadline - session.liveness.deadline.lastContact).toBeLessThan(shortMs);
      expect(leadership.isLeader).toBe(true);
      expect(logger.count('session-timeout-shortened')).toBe(1);
      await leadership.resign();
    } finally {
      first!.heal();
      await connection.close();
    }
  });
});
