/**
 * Options and names are checked before anything is sent; a server that does
 * not answer makes connect fail within connectTimeoutMs, not hang.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { ConnectionError, ErrorCode, InvalidOptionError } from '@elect/core';
import { freePort, scaled, startProxy, waitUntil, type Cluster, type Proxy } from '@elect/test';
import { connectZooKeeper, latchPath } from '@elect/zk';
import { invalidNames } from './support/backend.js';
import zookeeper from 'node-zookeeper-client';
import { type LogRecord, RecordingLogger, children, connect, rawClient, sessionTimeoutMs, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** A fresh node for a chroot, whose ACL gives anyone `perms`. */
async function chrootNode(outside: zookeeper.Client, label: string, perms: number): Promise<string> {
  const chroot = `/${uniqueName(label)}`;
  const acl = [new zookeeper.ACL(perms, new zookeeper.Id('world', 'anyone'))];
  await new Promise<void>((resolve, reject) => outside.create(chroot, Buffer.alloc(0), acl, 0, (error) => (error ? reject(error) : resolve())));
  return chroot;
}

describe('options', () => {
  test.each([
    [{ connectString: '' }, 'connectString'],
    [{ connectString: 'host:99999' }, 'connectString'],
    [{ connectString: 'a:1,,b:2' }, 'connectString'],
    [{ connectString: 'host:2181/bad/' }, 'connectString'],
    [{ connectString: 'h:1', sessionTimeoutMs: -1 }, 'sessionTimeoutMs'],
    [{ connectString: 'h:1', sessionTimeoutMs: 'ten' }, 'sessionTimeoutMs'],
    [{ connectString: 'h:1', connectTimeoutMs: 0 }, 'connectTimeoutMs'],
    [{ connectString: 'h:1', operationTimeoutMs: Number.NaN }, 'operationTimeoutMs'],
    [{ connectString: 'h:1', sessionTimeoutMs: 1000, safetyMarginMs: 1000 }, 'safetyMarginMs'],
    [{ connectString: 'h:1', auth: 'nocolon' }, 'auth'],
    [{ connectString: 'h:1', acl: [] }, 'acl'],
    [{ connectString: 'h:1', acl: [{ scheme: 'world', id: 'anyone', permissions: 'rwx' }] }, 'acl[0]'],
    // What the server would refuse (INVALID_ACL), refused before anything is sent:
    [{ connectString: 'h:1', acl: [{ scheme: 'world', id: 'everyone', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'auth', id: '', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'digest', id: 'bob', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'World', id: 'anyone', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'digset', id: 'bob:x', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'ip', id: 'not-an-ip', permissions: 'cdrwa' }] }, 'acl[0]'],
    [{ connectString: 'h:1', acl: [{ scheme: 'ip', id: '10.0.0.0/33', permissions: 'cdrwa' }] }, 'acl[0]'],
    // An ACL that shuts us out of what we create (the election's node would stay behind):
    [{ connectString: 'h:1', acl: [{ scheme: 'world', id: 'anyone', permissions: 'r' }] }, 'acl'],
    // An entry whose grant cannot be told here (ip) counts for what it could give: not enough either.
    [{ connectString: 'h:1', acl: [{ scheme: 'ip', id: '10.0.0.1', permissions: 'r' }, { scheme: 'world', id: 'anyone', permissions: 'r' }] }, 'acl'],
    [{ connectString: 'h:1', auth: 'alice:secret', acl: [{ scheme: 'digest', id: 'alice:wronghash', permissions: 'cdrwa' }] }, 'acl'],
    [{ connectString: 'h:1', auth: 'alice:secret', acl: [{ scheme: 'auth', id: '', permissions: 'cdr' }, { scheme: 'world', id: 'anyone', permissions: 'r' }] }, 'acl'],
    [{ connectString: 'h:1', sessionTimeout: 1000 }, 'sessionTimeout'],
    [{ connectString: 'h:1', logger: {} }, 'logger'],
    [{ connectString: 'h:1', logger: { info: () => {} } }, 'logger'],
    [{ connectString: 'h:1', clock: { now: () => 0 } }, 'clock'],
    [{ connectString: 'h:1', telemetry: { sessionStatus: 'yes' } }, 'telemetry'],
  ])('%j is rejected naming %s', async (options, option) => {
    const error = await rejected(connectZooKeeper(options as never));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
  });

  test('names map onto latch paths', () => {
    expect(latchPath('billing')).toBe('/elect/billing');
    expect(latchPath('team/billing')).toBe('/elect/team/billing');
    expect(latchPath('/services/billing/leader')).toBe('/services/billing/leader');
    for (const name of invalidNames) expect(() => latchPath(name)).toThrow(InvalidOptionError);
  });
});

describe('connecting', () => {
  let proxy: Proxy;
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startServer(1);
    proxy = await startProxy({ host: cluster.members[0]!.host, port: cluster.members[0]!.clientPort });
  });
  afterAll(async () => {
    await proxy?.close();
    await cluster?.close();
  });

  test('a server that never answers: ConnectionError within connectTimeoutMs', async () => {
    proxy.blackhole();
    const connectTimeoutMs = scaled(1000);
    const started = Date.now();
    const error = await rejected(connect(proxy.address, { connectTimeoutMs }));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(Date.now() - started).toBeLessThan(connectTimeoutMs + scaled(1000));
    proxy.heal();
  });

  test('nobody listening: ConnectionError within connectTimeoutMs', async () => {
    const port = await freePort();
    const error = await rejected(connect(`127.0.0.1:${port}`, { connectTimeoutMs: scaled(1000) }));
    expect(error).toBeInstanceOf(ConnectionError);
  });

  test('an invalid election name is refused before any write', async () => {
    const connection = await connect(cluster.connectString);
    try {
      for (const name of invalidNames) expect(() => connection.election(name)).toThrow(InvalidOptionError);
      await expect(connection.election('ok').campaign({ id: 'bad\nid' })).rejects.toBeInstanceOf(InvalidOptionError);
    } finally {
      await connection.close();
    }
  });

  test('a chroot is created if missing, before the first heartbeat (nothing is suspended), and elections live under it; digest auth and ACLs apply to our nodes, the chroot included, not to parents made on the way', async () => {
    const parent = `/${uniqueName('chroot')}`;
    const chroot = `${parent}/tenant`;
    const logger = new RecordingLogger();
    const connection = await connect(`${cluster.connectString}${chroot}`, {
      logger,
      auth: 'alice:secret',
      acl: [
        { scheme: 'auth', id: '', permissions: 'cdrwa' },
        { scheme: 'world', id: 'anyone', permissions: 'r' },
      ],
    });
    const election = connection.election('billing');
    const outside = await rawClient(cluster.connectString);
    try {
      const leadership = await election.campaign({ id: 'alice' });
      const [node] = await children(outside, `${chroot}/elect/billing`);
      expect(leadership.key).toBe(`/elect/billing/${node}`);
      // Without alice's credentials, the node can be read but not deleted.
      const denied = await new Promise<unknown>((resolve) => outside.remove(`${chroot}${leadership.key}`, -1, resolve));
      expect((denied as { code?: number } | null)?.code).toBe(-102);
      await leadership.resign();
      await election.close();
      expect(await children(outside, `${chroot}/elect`)).toEqual([]);
      // Each heartbeat is a check of the chroot: sent before it existed, the first failed.
      expect(logger.records.filter((r) => r.fields.event === 'suspended' && r.fields.why === 'heartbeat failed')).toEqual([]);
      const aclOf = (path: string): Promise<string[]> =>
        new Promise((resolve, reject) =>
          outside.getACL(path, (error, acl) =>
            error ? reject(error) : resolve((acl as unknown as { permission: number; id: { scheme: string; id: string } }[]).map((e) => `${e.id.scheme}:${e.id.id.replace(/:.*/, '')}:${e.permission}`)),
          ),
        );
      const { Permission } = zookeeper;
      expect({ parent: await aclOf(parent), chroot: await aclOf(chroot) }).toEqual({
        parent: [`world:anyone:${Permission.ALL}`],
        chroot: [`digest:alice:${Permission.ALL}`, `world:anyone:${Permission.READ}`],
      });
    } finally {
      await connection.close();
      await new Promise((resolve) => outside.remove(chroot, -1, resolve));
      await new Promise((resolve) => outside.remove(parent, -1, resolve));
      outside.close();
    }
  });

  test('an ACL naming our own digest id (USER:base64(sha1(USER:PASSWORD))) is taken as ours: we campaign and clean up under it; parents made on the way stay open', async () => {
    const hash = createHash('sha1').update('alice:secret').digest('base64');
    const team = uniqueName('digest-acl');
    const name = `${team}/billing`;
    const connection = await connect(cluster.connectString, { auth: 'alice:secret', acl: [{ scheme: 'digest', id: `alice:${hash}`, permissions: 'cdrwa' }] });
    const outside = await rawClient(cluster.connectString);
    try {
      const leadership = await connection.election(name).campaign({ id: 'alice' });
      // Without alice's credentials, neither the queue nor our node can be read.
      for (const read of [(done: (error: unknown) => void) => outside.getChildren(latchPath(name), done), (done: (error: unknown) => void) => outside.getData(leadership.key, done)]) {
        expect(await new Promise<unknown>((resolve) => read(resolve))).toMatchObject({ code: -102 });
      }
      // `/elect/<team>` was made on the way: open, as a shared root must be (another user's election may go beside ours).
      const open = await new Promise<{ permission: number; id: { scheme: string; id: string } }[]>((resolve, reject) =>
        outside.getACL(latchPath(team), (error, acl) => (error ? reject(error) : resolve(acl as never))),
      );
      expect(open.map((entry) => [entry.id.scheme, entry.id.id, entry.permission])).toEqual([['world', 'anyone', zookeeper.Permission.ALL]]);
      await leadership.resign();
      expect(await connection.election(name).candidates()).toEqual([]);
    } finally {
      await connection.close();
      outside.close();
    }
  });

  test('an ACL the server refuses (INVALID_ACL: a sasl entry on a server without SASL) rejects the campaign with InvalidOptionError and leaves nothing, parents made on the way included', async () => {
    const top = `/${uniqueName('invalid-acl')}`;
    const acl = [
      { scheme: 'sasl', id: 'alice', permissions: 'cdrwa' },
      { scheme: 'world', id: 'anyone', permissions: 'cdrwa' },
    ];
    const connection = await connect(cluster.connectString, { acl });
    const outside = await rawClient(cluster.connectString);
    try {
      const election = connection.election(`${top}/jobs/leader`);
      await expect(election.campaign({ id: 'a' })).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'acl' });
      await election.close();
      const left = await new Promise<unknown>((resolve) => outside.exists(top, (error, stat) => resolve(error ?? stat)));
      expect(left).toBeNull();
      // Making a chroot with it: the same refusal, not "unreachable".
      await expect(connect(`${cluster.connectString}${top}/tenant`, { acl })).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'acl' });
      expect(await new Promise<unknown>((resolve) => outside.exists(top, (error, stat) => resolve(error ?? stat)))).toBeNull();
    } finally {
      await connection.close();
      outside.close();
    }
  });

  test('a chroot these credentials may not read: connect rejects at once with PermissionDeniedError naming READ, since no heartbeat could pass', async () => {
    const outside = await rawClient(cluster.connectString);
    const chroot = await chrootNode(outside, 'noread', zookeeper.Permission.ALL & ~zookeeper.Permission.READ);
    try {
      const started = Date.now();
      const error = await rejected(connect(`${cluster.connectString}${chroot}`));
      expect(error).toMatchObject({ name: 'PermissionDeniedError', code: ErrorCode.PermissionDenied, retryable: false });
      expect((error as Error).message).toMatch(/READ/);
      expect(Date.now() - started).toBeLessThan(sessionTimeoutMs);
    } finally {
      await new Promise((resolve) => outside.remove(chroot, -1, resolve));
      outside.close();
    }
  });

  test('READ on the chroot taken away while connected: the refused heartbeat is logged once, for what it is; the leader is lost at its deadline and its next campaign rejects with PermissionDeniedError', async () => {
    const outside = await rawClient(cluster.connectString);
    const { ACL, Id, Permission } = zookeeper;
    const chroot = await chrootNode(outside, 'readtaken', Permission.ALL);
    const logger = new RecordingLogger();
    const connection = await connect(`${cluster.connectString}${chroot}`, { logger });
    const setAcl = (perms: number): Promise<void> =>
      new Promise((resolve, reject) => outside.setACL(chroot, [new ACL(perms, new Id('world', 'anyone'))], -1, (error) => (error ? reject(error) : resolve())));
    const events = (event: string): LogRecord[] => logger.records.filter((r) => r.fields.event === event);
    const election = connection.election('jobs');
    try {
      const leadership = await election.campaign({ id: 'alice' });
      await setAcl(Permission.ALL & ~Permission.READ);
      await waitUntil(() => events('heartbeat-refused').length > 0, { timeoutMs: sessionTimeoutMs, what: 'a heartbeat to be refused' });
      // Lost at the deadline; the next session is refused when it connects, and says so.
      await once(leadership.signal, 'abort');
      expect(leadership.signal.reason).toMatchObject({ reason: 'deadline' });
      await waitUntil(() => events('session-refused').length > 0, { timeoutMs: sessionTimeoutMs, what: 'a fresh session to be refused' });
      // A refusal is not retried (before, the campaign waited for a session forever).
      const again = await rejected(election.campaign({ id: 'alice' }));
      expect(again).toMatchObject({ name: 'PermissionDeniedError', code: ErrorCode.PermissionDenied, retryable: false });
      expect(events('reconnect-failed')).toEqual([]);
      // The session given up is closed on the server by re-attaching to it, which needs no READ.
      await waitUntil(() => events('stale-session-closed').length === 1, { timeoutMs: sessionTimeoutMs, what: 'the stale session to be closed' });
      expect(events('stale-session-gone')).toEqual([]);
      expect(events('suspended').map((r) => r.fields.why)).toEqual(['heartbeat refused']);
      expect(events('heartbeat-refused').map((r) => r.level)).toEqual(['error']);
    } finally {
      await setAcl(Permission.ALL);
      await connection.close();
      await new Promise((resolve) => outside.remove(chroot, -1, resolve));
      outside.close();
    }
  });

  test('one connection serves many elections and candidates at once', async () => {
    const connection = await connect(cluster.connectString);
    try {
      const names = [uniqueName('many'), uniqueName('many')];
      const elections = names.map((name) => connection.election(name));
      const leaders = await Promise.all(elections.map((election, i) => election.campaign({ id: `lead-${i}` })));
      const waiting = elections.map((election, i) => election.campaign({ id: `next-${i}` }));
      expect(leaders.every((leadership) => leadership.isLeader)).toBe(true);
      await Promise.all(leaders.map((leadership) => leadership.resign()));
      const next = await Promise.all(waiting);
      expect(next.map((leadership) => leadership.id)).toEqual(['next-0', 'next-1']);
      await Promise.all(elections.map((election) => election.close()));
    } finally {
      await connection.close();
    }
  });
});

