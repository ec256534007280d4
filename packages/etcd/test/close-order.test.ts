/**
 * Closing in every order: the election before its connection, the
 * connection alone (it closes its elections first), and a close that lands
 * while a campaign's last read — the one that finds it first in the queue —
 * is still in flight. A closed candidate is terminal: it never leads, and
 * nothing that happens to its session afterwards (the connection revoking
 * the lease) may tell it that it lost.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { ClosedError, LeadershipLostError, type Election, type ElectionEvent } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, type Cluster } from '@elect/test';
import { Queue, RecordingLogger, TTL_MS, eventually, expectClean, residue, uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(60_000));

let cluster: Cluster;
let client: Etcd3;
const open: EtcdConnection[] = [];

useEtcd({ size: 1 }, (started, admin) => {
  cluster = started;
  client = admin;
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  await expectClean(client, '');
});

async function connect(logger = new RecordingLogger()): Promise<EtcdConnection> {
  const connection = await connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS, logger });
  open.push(connection);
  return connection;
}

/** Calls `hook` on every `wake` a waiting candidate logs: the moment it re-reads the queue after its predecessor left. */
class WakeHook extends RecordingLogger {
  hook: () => void = () => {};
  override debug(fields: object, message?: string): void {
    super.debug(fields, message);
    if ((fields as { event?: unknown }).event === 'wake') this.hook();
  }
}

/** Everything `events()` delivered until it ended (the election closed). */
async function allEvents(queue: Queue<ElectionEvent>): Promise<ElectionEvent[]> {
  await eventually(() => queue.done, 'events() to end');
  expect(queue.error).toBeUndefined();
  return queue.drain();
}

const lossesOf = (events: ElectionEvent[]): string[] => events.flatMap((e) => (e.type === 'lost' ? [e.reason] : []));

describe('closing an etcd election and its connection', () => {
  it('election closed while leading, then the connection: lost once with "closed", both closes resolve', async () => {
    const name = uniqueName();
    const conn = await connect();
    const election = conn.election(name);
    const events = new Queue<ElectionEvent>(election.events());
    const leadership = await election.campaign({ id: 'a' });
    await election.close();
    expect((leadership.signal.reason as LeadershipLostError).reason).toBe('closed');
    await expect(conn.close()).resolves.toBeUndefined();
    expect(lossesOf(await allEvents(events))).toEqual(['closed']);
    expect(await residue(client, name)).toEqual([]);
  });

  it('connection closed while leading (closing its elections first), then the election: the same', async () => {
    const name = uniqueName();
    const conn = await connect();
    const election = conn.election(name);
    const events = new Queue<ElectionEvent>(election.events());
    const leadership = await election.campaign({ id: 'a' });
    await expect(conn.close()).resolves.toBeUndefined();
    expect((leadership.signal.reason as LeadershipLostError).reason).toBe('closed');
    await expect(election.close()).resolves.toBeUndefined();
    expect(lossesOf(await allEvents(events))).toEqual(['closed']);
    expect(await residue(client, name)).toEqual([]);
  });

  // The CI failure: a test failed with b's campaign about to win; the teardown
  // closed b's connection while b's last read was in flight. The campaign
  // then led on a closed election, the candidate went `closed` with its
  // leadership still live, and revoking the lease told it `lost`:
  // "illegal state transition closed -> lost" out of connection.close().
  for (const closing of ['election', 'connection'] as const) {
    it(`${closing} closed while the campaign's last read is in flight: it rejects with ClosedError and never leads`, async () => {
      const name = uniqueName();
      const logger = new WakeHook();
      const [a, b] = [await connect(), await connect(logger)];
      const la = await a.election(name).campaign({ id: 'a' });
      const eb: Election = b.election(name);
      const events = new Queue<ElectionEvent>(eb.events());
      const pb = eb.campaign({ id: 'b' });
      pb.catch(() => {}); // asserted below
      await eventually(async () => (await residue(client, name)).length === 2, 'b to queue');

      // b wakes when a resigns and sends its read; the close lands before the answer can.
      let closed: Promise<void> | undefined;
      logger.hook = () => {
        logger.hook = () => {};
        setImmediate(() => (closed = closing === 'election' ? eb.close() : b.close()));
      };
      await la.resign();
      await eventually(() => closed !== undefined, 'the close to start');
      await expect(closed).resolves.toBeUndefined();
      await expect(b.close()).resolves.toBeUndefined();
      await expect(pb).rejects.toBeInstanceOf(ClosedError);
      const seen = await allEvents(events);
      expect(seen.filter((e) => e.type === 'elected' || e.type === 'lost')).toEqual([]);
      expect(await residue(client, name)).toEqual([]);
    });
  }

  it('closing revokes its lease once: a second revoke sent while the first is in flight is a second write for etcd to commit', async () => {
    // etcd's own count of LeaseRevoke calls (go-grpc-prometheus); this file's server serves nobody else.
    const revokes = async (): Promise<number> => {
      const text = await (await fetch(`${cluster.endpoints[0]}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('grpc_server_started_total{') && l.includes('grpc_method="LeaseRevoke"'));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const logger = new RecordingLogger();
    const connection = await connect(logger);
    const leadership = await connection.election(uniqueName()).campaign({ id: 'a' }); // the lease is granted for the first campaign
    await leadership.resign();
    const before = await revokes();
    await connection.close();
    expect((await revokes()) - before).toBe(1);
    expect(logger.count('lease-revoked')).toBe(1);
  });
});
