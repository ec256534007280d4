/**
 * A 3-node ensemble losing members under a leader: the member our session
 * is connected to, and the server-side leader. With two of three left the
 * ensemble serves, our client fails over (our heartbeat drops a silent
 * connection; the library reconnects elsewhere) and leadership holds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { fourLetter, scaled, waitUntil, type Cluster, type Member } from '@elect/test';
import type { ZooKeeperConnection } from '@elect/zk';
import { EventLog } from './support/events.js';
import { children, connect, rawClient, startServer, uniqueName } from './support/zk.js';

// The root config's testTimeout does not reach projects: set it here, on the timing base.
jest.setTimeout(scaled(120_000));

let cluster: Cluster;
let connection: ZooKeeperConnection | undefined;
let electionName = '';
const paused = new Set<Member>();
// An ensemble re-elects in a few seconds here: give sessions room for that.
const timeout = scaled(10_000);

beforeAll(async () => {
  cluster = await startServer(3);
});

afterEach(async () => {
  await connection?.close();
  connection = undefined;
  for (const member of cluster.members) {
    if (paused.delete(member)) await member.resume();
    if (!member.running) await member.start();
  }
  await cluster.waitServing();
  const client = await rawClient(cluster.connectString);
  try {
    await waitUntil(async () => (await children(client, `/elect/${electionName}`)).length === 0, {
      timeoutMs: 2 * timeout,
      what: 'no znodes left',
    });
  } finally {
    client.close();
  }
});

afterAll(async () => {
  await cluster?.close();
});

/** The member whose `cons` lists our session. */
async function memberServing(sessionId: string): Promise<Member> {
  const id = sessionId.replace(/^0x0*/, '');
  return await waitUntil(
    async () => {
      for (const member of cluster.members) {
        if (!member.running) continue;
        const cons = await fourLetter(member, 'cons').catch(() => '');
        if (new RegExp(`sid=0x0*${id}\\b`).test(cons)) return member;
      }
      return undefined;
    },
    { timeoutMs: 5000, what: `the member serving session ${sessionId}` },
  );
}

describe('zookeeper 3-node ensemble faults', () => {
  test('losing the member our session is on: the client fails over, leadership holds', async () => {
    connection = await connect(cluster.connectString, { sessionTimeoutMs: timeout });
    electionName = uniqueName('ensemble');
    const election = connection.election(electionName);
    const events = new EventLog(election);
    const leadership = await election.campaign({ id: 'survivor' });
    const session = connection.sessionId;
    const serving = await memberServing(session);
    const killedAt = Date.now();
    await serving.kill();
    await events.waitFor('suspended', timeout);
    const resumed = await events.waitFor('resumed', timeout);
    if (process.env.ELECT_TEST_VERBOSE) console.log({ resumedAfterKill: resumed.at - killedAt, timeout });
    expect(leadership.isLeader).toBe(true);
    expect(connection.sessionId).toBe(session);
    expect(await memberServing(session)).not.toBe(serving);
    expect((await election.leader())?.key).toBe(leadership.key);
    await leadership.resign();
    await events.close();
    await election.close();
  });

  test('losing the server-side leader: the ensemble re-elects, our leadership holds', async () => {
    connection = await connect(cluster.connectString, { sessionTimeoutMs: timeout });
    electionName = uniqueName('ensemble');
    const election = connection.election(electionName);
    const events = new EventLog(election);
    const leadership = await election.campaign({ id: 'steady' });
    const session = connection.sessionId;
    const serverLeader = await cluster.serverLeader();
    await serverLeader.kill();
    // The survivors re-elect; whatever our client saw meanwhile, it must end up live on the same session.
    await waitUntil(async () => (await cluster.serverLeader()) !== serverLeader, { timeoutMs: timeout, what: 'a new server-side leader' });
    await waitUntil(async () => (await election.leader())?.key === leadership.key, { timeoutMs: timeout, what: 'our node still leading' });
    expect(leadership.isLeader).toBe(true);
    expect(connection.sessionId).toBe(session);
    expect(events.types()).not.toContain('lost');
    // A write through the new quorum proves the session is really alive there.
    await leadership.proclaim('after re-election');
    expect((await election.leader())?.value).toBe('after re-election');
    await leadership.resign();
    await events.close();
    await election.close();
  });

  test('a hung member (SIGSTOP) under our session: our heartbeat notices, the client moves on, leadership holds', async () => {
    connection = await connect(cluster.connectString, { sessionTimeoutMs: timeout });
    electionName = uniqueName('ensemble');
    const election = connection.election(electionName);
    const events = new EventLog(election);
    const leadership = await election.campaign({ id: 'unfrozen' });
    const session = connection.sessionId;
    const serving = await memberServing(session);
    const pausedAt = Date.now();
    await serving.pause();
    paused.add(serving);
    // The library would stay on the frozen member forever; our heartbeat drops it.
    const suspended = await events.waitFor('suspended', timeout);
    const resumed = await events.waitFor('resumed', timeout);
    if (process.env.ELECT_TEST_VERBOSE) console.log({ suspendedAfter: suspended.at - pausedAt, resumedAfter: resumed.at - pausedAt, timeout });
    expect(leadership.isLeader).toBe(true);
    expect(connection.sessionId).toBe(session);
    await leadership.proclaim('moved');
    expect((await election.leader())?.value).toBe('moved');
    await leadership.resign();
    await events.close();
    await election.close();
  });
});
