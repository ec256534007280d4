/**
 * Real faults against a standalone server: a server killed and restarted
 * within the session timeout, a client cut (blackholed) shorter and longer
 * than its loss deadline, a hung (SIGSTOPped) server, and a session expired
 * under a leader. Every test ends with nothing of ours left on the server.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { LeadershipLostError, TimeoutError, type Leadership } from '@elect/core';
import { expireSession, proxyCluster, scaled, waitUntil, type Cluster, type ClusterProxies } from '@elect/test';
import type { ZooKeeperConnection } from '@elect/zk';
import { credentials } from './support/backend.js';
import { EventLog } from './support/events.js';
import { RecordingLogger, children, connect, rawClient, sessionTimeoutMs, startServer, uniqueName } from './support/zk.js';

// The root config's testTimeout does not reach projects: set it here, on the timing base.
jest.setTimeout(scaled(120_000));

let cluster: Cluster;
const cleanup: Array<() => Promise<unknown> | unknown> = [];
const names: string[] = [];

beforeAll(async () => {
  cluster = await startServer(1);
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  // Leaks: nothing of ours may remain under any election a test used.
  const client = await rawClient(cluster.connectString);
  try {
    for (const name of names.splice(0)) {
      await waitUntil(async () => (await children(client, `/elect/${name}`)).length === 0, {
        timeoutMs: 2 * sessionTimeoutMs,
        what: `no znodes left under /elect/${name}`,
      });
    }
  } finally {
    client.close();
  }
});

afterAll(async () => {
  await cluster?.close();
});

function name(): string {
  const next = uniqueName('faults');
  names.push(next);
  return next;
}

async function open(connectString: string, options: Parameters<typeof connect>[1] = {}): Promise<ZooKeeperConnection> {
  const connection = await connect(connectString, options);
  cleanup.push(() => connection.close());
  return connection;
}

async function proxied(): Promise<ClusterProxies> {
  const proxies = await proxyCluster(cluster);
  cleanup.push(() => proxies.close());
  return proxies;
}

/** When leadership was lost, on the monotonic clock (as every interval here: the wall clock may be stepped). */
function lossOf(leadership: Leadership): Promise<{ reason: string; at: number }> {
  return new Promise((resolve) => {
    const report = (): void => {
      const reason = leadership.signal.reason as LeadershipLostError;
      resolve({ reason: reason.reason, at: performance.now() });
    };
    if (leadership.signal.aborted) report();
    else leadership.signal.addEventListener('abort', report, { once: true });
  });
}

describe('zookeeper standalone faults', () => {
  test('a server killed and restarted within the session timeout: leadership holds, same session', async () => {
    const timeout = scaled(12_000);
    const connection = await open(cluster.connectString, { sessionTimeoutMs: timeout });
    const election = connection.election(name());
    const events = new EventLog(election);
    cleanup.push(() => events.close());
    const leadership = await election.campaign({ id: 'steady' });
    const session = connection.sessionId;
    const member = cluster.members[0]!;
    await member.kill();
    await events.waitFor('suspended', timeout);
    await member.start();
    await events.waitFor('resumed', timeout);
    expect(leadership.isLeader).toBe(true);
    expect(connection.sessionId).toBe(session);
    expect(events.types()).not.toContain('lost');
    expect((await election.leader())?.key).toBe(leadership.key);
    await leadership.resign();
    await election.close();
  });

  test('a cut shorter than the deadline costs nothing: suspended, resumed, still leader', async () => {
    const proxies = await proxied();
    const connection = await open(proxies.connectString);
    const election = connection.election(name());
    const events = new EventLog(election);
    cleanup.push(() => events.close());
    const leadership = await election.campaign({ id: 'blip' });
    const session = connection.sessionId;
    proxies.blackhole();
    const suspended = await events.waitFor('suspended', sessionTimeoutMs);
    expect(leadership.isLeader).toBe(true);
    proxies.heal();
    const resumed = await events.waitFor('resumed', sessionTimeoutMs);
    expect(resumed.at).toBeGreaterThanOrEqual(suspended.at);
    expect(leadership.isLeader).toBe(true);
    expect(events.types()).not.toContain('lost');
    expect(connection.sessionId).toBe(session);
    await leadership.resign();
    await election.close();
  });

  test('a cut longer than the deadline: the leader gives up before the server hands leadership on', async () => {
    const proxies = await proxied();
    const cutOff = await open(proxies.connectString);
    const other = await open(cluster.connectString);
    const electionName = name();
    const a = cutOff.election(electionName);
    const b = other.election(electionName);
    const leadership = await a.campaign({ id: 'cut-off' });
    const next = b.campaign({ id: 'successor' });
    await waitUntil(async () => (await b.candidates()).length === 2, { timeoutMs: 5000, what: 'two candidates' });
    const oldSession = cutOff.sessionId;
    const cutAt = performance.now();
    proxies.blackhole();
    const lost = await lossOf(leadership);
    const successor = await next;
    const electedAt = performance.now();
    if (process.env.ELECT_TEST_VERBOSE) console.log({ lostAfter: lost.at - cutAt, electedAfter: electedAt - cutAt, sessionTimeoutMs });
    expect(lost.reason).toBe('deadline');
    // At most one leader: ours let go before the server expired the session.
    expect(lost.at).toBeLessThan(electedAt);
    // The deadline is counted from the last heartbeat answered before the cut.
    expect(lost.at - cutAt).toBeLessThanOrEqual(sessionTimeoutMs);
    expect(successor.token).toBeGreaterThan(leadership.token);
    // Between sessions a read waits for the next one, for one operation
    // timeout; cut off, none comes, and it says so.
    await expect(a.candidates()).rejects.toThrow(TimeoutError);
    proxies.heal();
    // The connection moves on to a fresh session once the server answers again.
    await waitUntil(() => cutOff.current !== undefined && !cutOff.current.isEnded && cutOff.sessionId !== oldSession, {
      timeoutMs: 3 * sessionTimeoutMs,
      what: 'a fresh session after the cut',
    });
    await successor.resign();
    await a.close();
    await b.close();
  });

  test('a hung server (SIGSTOP): the leader aborts by its deadline though the library still says connected', async () => {
    const connection = await open(cluster.connectString);
    const election = connection.election(name());
    const leadership = await election.campaign({ id: 'frozen' });
    // A bare library client as a control: it never notices the hang.
    const control = await rawClient(cluster.connectString);
    cleanup.push(() => control.close());
    const member = cluster.members[0]!;
    const pausedAt = performance.now();
    await member.pause();
    let resumed = false;
    cleanup.push(async () => {
      if (!resumed) await member.resume();
    });
    const lost = await lossOf(leadership);
    expect(lost.reason).toBe('deadline');
    expect(lost.at - pausedAt).toBeLessThanOrEqual(sessionTimeoutMs);
    if (process.env.ELECT_TEST_VERBOSE) console.log({ lostAfterPause: lost.at - pausedAt, sessionTimeoutMs });
    expect(control.getState()).toBe(zookeeper.State.SYNC_CONNECTED);
    await member.resume();
    resumed = true;
    // After the server is back a new campaign works on a fresh session.
    const again = await election.campaign({ id: 'thawed' });
    expect(again.token).toBeGreaterThan(leadership.token);
    await again.resign();
    await election.close();
  });

  test('a session expired under a leader: lost with session-expired, a waiting campaign re-enters on the new session', async () => {
    // As in the field, the session expires while its client is away: cut off,
    // so it cannot win the session back from the connection that closes it.
    // Left connected, the client may reconnect between that connection's
    // arrival and its close being applied; it then re-registers its watches
    // and hears its node deleted by the close (reason 'deleted') before the
    // server drops it, which is a true report of a different race.
    const proxies = await proxied();
    const connection = await open(proxies.connectString);
    const electionName = name();
    const election = connection.election(electionName);
    const leader = await election.campaign({ id: 'first' });
    const waiting = election.campaign({ id: 'second' });
    await waitUntil(async () => (await election.candidates()).length === 2, { timeoutMs: 5000, what: 'two candidates' });
    const oldSession = connection.sessionId;
    proxies.cut();
    await expireSession(cluster.connectString, credentials(connection));
    proxies.heal();
    const lost = await lossOf(leader);
    expect(lost.reason).toBe('session-expired');
    const second = await waiting;
    expect(connection.sessionId).not.toBe(oldSession);
    expect(second.token).toBeGreaterThan(leader.token);
    const queue = await election.candidates();
    expect(queue.map((entry) => entry.id)).toEqual(['second']);
    await second.resign();
    await election.close();
  });

  test('a server that accepts and never answers does not hold the connect: the next server of the list serves', async () => {
    // node-zookeeper-client times out only the TCP connect; a member that
    // accepts and then says nothing (hung, or behind a proxy that accepts for
    // it) would hold the session request for ever. The library shuffles the
    // connect string, so several connects make sure most dial it first.
    const silent = net.createServer((socket) => {
      socket.on('error', () => {});
      cleanup.push(() => socket.destroy());
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => silent.close(resolve)));
    const { port } = silent.address() as net.AddressInfo;
    const connectString = `127.0.0.1:${port},${cluster.connectString}`;
    // Each server gets timeout / 2 to answer; a connect fits within two of those.
    const timeout = scaled(4000);
    const connections = await Promise.all(
      Array.from({ length: 6 }, () => open(connectString, { sessionTimeoutMs: timeout, connectTimeoutMs: timeout * 1.5 })),
    );
    for (const connection of connections) expect(connection.current?.isEnded).toBe(false);
  });

  test('after a loss at the deadline, our stale session is closed as soon as the server answers: its node does not linger', async () => {
    // A wide margin puts our deadline well before the server's expiry, and
    // healing right after the loss lands in between: the server still holds
    // the old session and its node, which would block the successor until
    // the session timeout — unless we close that session ourselves.
    const timeout = scaled(8000);
    const logger = new RecordingLogger();
    const proxies = await proxied();
    const cutOff = await open(proxies.connectString, { sessionTimeoutMs: timeout, safetyMarginMs: Math.round(timeout / 2), logger });
    const other = await open(cluster.connectString, { sessionTimeoutMs: timeout });
    const electionName = name();
    const a = cutOff.election(electionName);
    const b = other.election(electionName);
    const leadership = await a.campaign({ id: 'stale' });
    const next = b.campaign({ id: 'successor' });
    await waitUntil(async () => (await b.candidates()).length === 2, { timeoutMs: 5000, what: 'two candidates' });
    const cutAt = performance.now();
    proxies.blackhole();
    const lost = await lossOf(leadership);
    expect(lost.reason).toBe('deadline');
    proxies.heal();
    const successor = await next;
    const electedAt = performance.now();
    if (process.env.ELECT_TEST_VERBOSE) console.log({ lostAfter: lost.at - cutAt, electedAfter: electedAt - cutAt, timeout });
    // The server could not have expired the session yet: we closed it —
    // either by re-attaching to it, or (when the library's own client got back
    // in first and was then closed by us) by finding it already ended.
    expect(electedAt - cutAt).toBeLessThan(timeout);
    // The successor can be elected the moment the server deleted the node, a
    // little before our closing client has heard the server's answer: wait
    // for the log line (within one request's deadline), then check it is the
    // only outcome logged.
    await waitUntil(() => logger.count('stale-session-closed') + logger.count('stale-session-gone') > 0, {
      timeoutMs: 3000,
      what: 'the stale session to be logged as closed or gone',
    });
    expect(logger.count('stale-session-closed') + logger.count('stale-session-gone')).toBe(1);
    expect(logger.count('stale-session-abandoned')).toBe(0);
    await successor.resign();
    await a.close();
    await b.close();
  });
});
