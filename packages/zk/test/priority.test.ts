/**
 * Priority elections on ZooKeeper, beyond the conformance suite: a take
 * whose answer is still on its way when the campaign gives up, nodes named
 * like the record or the request that are not ours, a leader that can no
 * longer read its queue, and close() after a leadership yielded or while
 * it hands over.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { RecordingLogger, scaled, startProxy, waitUntil, withTimeout, type Cluster } from '@elect/test';
import { ErrorCode, type Leadership } from '@elect/core';
import { ManualClock } from '@elect/core/testing';
import { ReplyDropper } from './support/reply-dropper.js';
import { children, connect, rawClient, sessionTimeoutMs, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(60_000));

const multiOp = 14;

let cluster: Cluster;
let proxy: ReplyDropper;
let admin: zookeeper.Client;
beforeAll(async () => {
  cluster = await startServer(1);
  const member = cluster.members[0]!;
  proxy = await ReplyDropper.start({ host: member.host, port: member.clientPort });
  admin = await rawClient(cluster.connectString);
});
afterAll(async () => {
  admin?.close();
  await proxy?.close();
  await cluster?.close();
});

function call<T>(fn: (done: (error: Error | Exception | null, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, result) => (error ? reject(error) : resolve(result as T))));
}
type Exception = zookeeper.Exception;

/** Resolves with the loss reason once `leadership` ends, or with 'still leading' after `ms`. */
async function lossWithin(leadership: Leadership, ms: number): Promise<string> {
  const reason = (): string => String((leadership.signal.reason as { reason?: unknown } | undefined)?.reason);
  if (leadership.signal.aborted) return reason();
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<string>((resolve) => leadership.signal.addEventListener('abort', () => resolve(reason()), { once: true }));
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still leading'), ms)));
  try {
    return await Promise.race([lost, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('priority elections on ZooKeeper', () => {
  test('a campaign given up while its take is answered leaves no record behind', async () => {
    const connection = await connect(proxy.address);
    const name = uniqueName('prio-take-abort');
    const path = `/elect/${name}`;
    const election = connection.election(name);
    try {
      const stop = new AbortController();
      const hold = proxy.hold(multiOp, `${path}/`);
      const campaign = election.campaign({ id: 'a', priority: 1, signal: stop.signal });
      campaign.catch(() => {});
      await hold.holding; // the server took the record for us; we have not heard so yet
      expect(await children(admin, path)).toContain('leader');
      stop.abort(new Error('given up'));
      hold.release();
      await expect(campaign).rejects.toThrow('aborted');
      expect(await children(admin, path)).toEqual([]);
    } finally {
      await election.close();
      await connection.close();
    }
  });

  test('a plain election beside a nested election named <name>/leader stays a plain election', async () => {
    const connection = await connect(cluster.connectString);
    const name = uniqueName('prio-nested');
    const nested = connection.election(`${name}/leader`);
    const election = connection.election(name);
    try {
      const inner = await nested.campaign({ id: 'inner' });
      const outer = await election.campaign({ id: 'outer' });
      expect(outer.isLeader).toBe(true);
      expect((await election.leader())?.id).toBe('outer');
      expect((await election.candidates()).map((c) => c.id)).toEqual(['outer']);
      const seen = election.observe()[Symbol.asyncIterator]();
      expect((await seen.next()).value?.id).toBe('outer');
      await seen.return?.();
      await outer.resign();
      await inner.resign();
    } finally {
      await election.close();
      await nested.close();
      await connection.close();
    }
  });

  test('a priority campaign beside a nested election named <name>/leader is refused, naming both, and leaves nothing', async () => {
    const connection = await connect(cluster.connectString);
    const name = uniqueName('prio-nested-record');
    const nested = connection.election(`${name}/leader`);
    const election = connection.election(name);
    try {
      const inner = await nested.campaign({ id: 'inner' });
      // Its record would go where the nested election's latch path is: it would wait on that forever.
      await expect(election.campaign({ id: 'outer', priority: 3 })).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
        option: 'priority',
        message: expect.stringContaining(`"${name}/leader" is a nested election`),
      });
      expect(await children(admin, `/elect/${name}`)).toEqual(['leader']);
      expect(inner.isLeader).toBe(true);
      await inner.resign();
    } finally {
      await election.close();
      await nested.close();
      await connection.close();
    }
  });

  test('handover() beside a nested election named <name>/handover is refused and leaves the nested election alone', async () => {
    const connection = await connect(cluster.connectString);
    const name = uniqueName('prio-nested-request');
    const nested = connection.election(`${name}/handover`);
    const election = connection.election(name);
    try {
      const leader = await election.campaign({ id: 'leader', priority: 5 });
      const waiting = election.campaign({ id: 'next', priority: 1 });
      waiting.catch(() => {});
      const inner = await nested.campaign({ id: 'inner' });
      await expect(election.handover({ to: 'next' })).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
        message: expect.stringContaining(`"${name}/handover" is a nested election`),
      });
      expect(inner.isLeader).toBe(true);
      expect(leader.isLeader).toBe(true);
      expect((await nested.leader())?.id).toBe('inner');
      await leader.resign();
      await (await waiting).resign();
      await inner.resign();
      expect(await children(admin, `/elect/${name}`)).toEqual(['handover']);
    } finally {
      await election.close();
      await nested.close();
      await connection.close();
    }
  });

  test('a leader that cannot read what it must follow gives leadership up', async () => {
    const connection = await connect(cluster.connectString);
    const name = uniqueName('prio-noauth');
    const path = `/elect/${name}`;
    const election = connection.election(name);
    const { Permission, Id, ACL } = zookeeper;
    const unreadable = [new ACL(Permission.WRITE | Permission.DELETE | Permission.ADMIN, new Id('world', 'anyone'))];
    try {
      const leadership = await election.campaign({ id: 'a', priority: 1 });
      // A handover request nobody may read: the leader hears of it (a children
      // watch) and cannot tell what it asks.
      await call((done) => admin.create(`${path}/handover`, Buffer.from('{}'), unreadable, zookeeper.CreateMode.EPHEMERAL, done));
      expect(await lossWithin(leadership, 2 * sessionTimeoutMs)).toBe('deleted');
      await call((done) => admin.remove(`${path}/handover`, -1, done));
      await leadership.resign();
      expect(await children(admin, path)).toEqual([]);
    } finally {
      await election.close();
      await connection.close();
    }
  });

  test('close() resigns a leadership that yielded and has not released yet', async () => {
    const first = await connect(cluster.connectString);
    const second = await connect(cluster.connectString);
    const name = uniqueName('prio-close-yielded');
    const path = `/elect/${name}`;
    const a = first.election(name);
    const b = second.election(name);
    try {
      const held = await a.campaign({ id: 'a', priority: 1 });
      const taking = b.campaign({ id: 'b', priority: 2, preempt: true });
      expect(await lossWithin(held, 2 * sessionTimeoutMs)).toBe('preempted');
      // Not resigned: close() must release it (handing over to b), not leave it to the release timer.
      await a.close();
      const own = held.key.slice(held.key.lastIndexOf('/') + 1);
      expect(await children(admin, path)).not.toContain(own);
      const leadership = await taking;
      expect(leadership.isLeader).toBe(true);
      await leadership.resign();
    } finally {
      await a.close();
      await b.close();
      await first.close();
      await second.close();
    }
  });

  test('close() during a handover to a candidate that cannot take it does not wait for it: the record goes, and the next in line leads', async () => {
    // The leader's clock never moves: its wait for the handover to be taken
    // (at most a session timeout, on that clock) could only end by close().
    const clock = new ManualClock();
    const member = cluster.members[0]!;
    const relay = await startProxy({ host: member.host, port: member.clientPort });
    const first = await connect(cluster.connectString, { clock });
    const second = await connect(relay.address);
    const name = uniqueName('prio-close-handover');
    const path = `/elect/${name}`;
    const logger = new RecordingLogger();
    const a = first.election(name);
    const b = second.election(name, { logger });
    try {
      const held = await a.campaign({ id: 'a', priority: 5 });
      const taking = b.campaign({ id: 'b', priority: 1 });
      taking.catch(() => {});
      await waitUntil(() => logger.count('waiting') > 0, { timeoutMs: 10_000, what: 'b to wait in the queue' });
      relay.holdReplies(); // b hears nothing from now on: it cannot take over
      const handing = held.handover({ to: 'b' });
      handing.catch(() => {});
      await waitUntil(
        async () => (await call<Buffer>((done) => admin.getData(`${path}/leader`, done))).toString().includes('"to"'),
        { timeoutMs: 10_000, what: 'the record to be marked for b' },
      );
      expect(held.isLeader).toBe(false);
      // Unscaled: withTimeout scales its budget itself. Without the fix close() ends only once b's session expires.
      await withTimeout(a.close(), 4000, 'close() to end the wait for the handover to be taken');
      const left = await children(admin, path);
      expect(left).not.toContain('leader');
      expect(left).not.toContain(held.key.slice(held.key.lastIndexOf('/') + 1));
      expect(left).toHaveLength(1); // b's entry
      relay.heal();
      const leadership = await taking;
      expect(leadership.isLeader).toBe(true);
      await leadership.resign();
    } finally {
      relay.heal(); // b's close goes through it
      await a.close();
      await b.close();
      await first.close();
      await second.close();
      await relay.close();
    }
  });
});
