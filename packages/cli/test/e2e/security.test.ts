/**
 * The security flags end to end, against real servers with their security
 * on: etcd over TLS with a client certificate (`--cacert`, `--cert`,
 * `--key`), etcd password auth and ZooKeeper digest auth (`--user`), as
 * flags and as ELECT_* variables. What is refused says what and exits with
 * its documented code, and leaves nothing on the server.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  type Certificates,
  type Cluster,
  type TlsMember,
  anonymousZk,
  digestOnlyZnode,
  enableEtcdAuth,
  makeCertificates,
  scaled,
  startEtcd,
  startTlsEtcd,
} from '@elect/test';
import { Elect, electOnce, killAllElects } from '../support/elect.js';
import { useServer } from '../support/server.js';

jest.setTimeout(scaled(90_000));

/** A command that says it runs, then waits to be stopped. */
/** An etcd3 client with the rights to look (the harness's). */
type Admin = TlsMember['admin'];

const command = ['--', '/bin/sh', '-c', 'echo "running $ELECT_ID $ELECT_TOKEN"; exec sleep 600'];

let serial = 0;
const unique = (label: string): string => `${label}-${process.pid}-${++serial}`;

async function keysUnder(client: Admin, prefix: string): Promise<string[]> {
  return client.getAll().prefix(prefix).keys();
}

/** Runs one candidate until its command runs, checks `elect leader` names it, then stops it with SIGTERM (143). */
async function leadThenStop(args: readonly string[], env: NodeJS.ProcessEnv, leaderArgs: readonly string[], leaderEnv: NodeJS.ProcessEnv): Promise<void> {
  const candidate = new Elect('a', [...args, '--id', 'a', ...command], env);
  await candidate.waitLine(/^running a \d+$/, 'the command to run');
  const leader = await electOnce(['leader', ...leaderArgs, '--json'], leaderEnv);
  expect({ code: leader.exit.code, id: (JSON.parse(leader.stdout.join('') || 'null') as { id?: string } | null)?.id }).toEqual({ code: 0, id: 'a' });
  candidate.kill('SIGTERM');
  await expect(candidate.waitExit()).resolves.toEqual({ code: 143, signal: null });
}

describe('etcd over TLS with a client certificate', () => {
  let certs: Certificates;
  let member: TlsMember;
  const file = (name: string): string => path.join(certs.dir, name);

  beforeAll(async () => {
    certs = makeCertificates();
    member = await startTlsEtcd(certs);
  });
  afterEach(killAllElects);
  afterAll(async () => {
    await member?.close();
    certs?.close();
  });

  it('elect run with --cacert, --cert and --key leads and runs the command; elect leader reads it with the same files as ELECT_* variables; nothing is left', async () => {
    const election = unique('tls');
    const base = ['-b', 'etcd', '-c', member.endpoint, '-e', election, '--ttl', '4s'];
    await leadThenStop(
      [...base, '--cacert', file('ca.crt'), '--cert', file('client.crt'), '--key', file('client.key')],
      {},
      base,
      { ELECT_CACERT: file('ca.crt'), ELECT_CERT: file('client.crt'), ELECT_KEY: file('client.key') },
    );
    expect(await keysUnder(member.admin, election)).toEqual([]);
  });

  it('without a client certificate, or trusting another CA: the backend is unavailable (69), and the log says why', async () => {
    const election = unique('tls-refused');
    const base = ['leader', '-b', 'etcd', '-c', member.endpoint, '-e', election, '--connect-timeout', '2s'];
    for (const tls of [['--cacert', file('ca.crt')], ['--cacert', file('other-ca.crt'), '--cert', file('client.crt'), '--key', file('client.key')]]) {
      const refused = await electOnce([...base, ...tls]);
      expect(refused.exit.code).toBe(69);
      expect(refused.events('unavailable')).toHaveLength(1);
    }
    expect(await keysUnder(member.admin, election)).toEqual([]);
  });

  it('a certificate file that cannot be read is a usage error (64) naming the flag and the file, before anything is sent', async () => {
    const missing = file('nowhere.crt');
    const refused = await electOnce(['run', '-b', 'etcd', '-c', member.endpoint, '-e', unique('tls-usage'), '--cacert', missing, ...command]);
    expect(refused.exit.code).toBe(64);
    expect(refused.stderr.join('\n')).toContain(`--cacert ${missing}`);
  });
});

describe('etcd with password auth', () => {
  let cluster: Cluster;
  let root: Admin;
  const endpoint = (): string => cluster.endpoints[0] as string;

  beforeAll(async () => {
    cluster = await startEtcd({ size: 1 });
    ({ root } = await enableEtcdAuth(endpoint()));
  });
  afterEach(killAllElects);
  afterAll(async () => {
    root?.close();
    await cluster?.close();
  });

  it('--user (and ELECT_USER) as a user allowed on the prefix: leads, runs the command; nothing is left', async () => {
    const election = `app/${unique('auth')}`;
    const base = ['-b', 'etcd', '-c', endpoint(), '-e', election, '--ttl', '4s'];
    await leadThenStop([...base, '--user', 'elector:secret'], {}, base, { ELECT_USER: 'elector:secret' });
    expect(await keysUnder(root, election)).toEqual([]);
  });

  it('a wrong password: unavailable (69) at once, saying the credentials were refused', async () => {
    const refused = await electOnce(['leader', '-b', 'etcd', '-c', endpoint(), '-e', `app/${unique('auth-wrong')}`, '--user', 'elector:wrong']);
    expect(refused.exit.code).toBe(69);
    expect(String(refused.events('unavailable')[0]?.msg)).toMatch(/auth|password|credential/i);
  });

  it('a prefix the user may not write: elect run exits 77 (no permission) without running the command, saying so; nothing is written', async () => {
    const election = `forbidden/${unique('auth-denied')}`;
    const refused = await electOnce(['run', '-b', 'etcd', '-c', endpoint(), '-e', election, '--user', 'elector:secret', '--id', 'a', ...command]);
    expect(refused.exit.code).toBe(77);
    expect(refused.stdout).toEqual([]);
    expect(refused.events('permission-denied')).toEqual([expect.objectContaining({ user: 'elector', msg: expect.stringMatching(/^permission denied as user elector: etcd refused/) })]);
    expect(JSON.stringify(refused.logs)).not.toContain('secret');
    expect(await keysUnder(root, 'forbidden/')).toEqual([]);
  });
});

describe('ZooKeeper with digest auth', () => {
  let secure: { remove(): Promise<void> } | undefined;
  let parent = '';
  // Before useServer's own: the node goes while its server is still up.
  afterAll(async () => {
    await secure?.remove();
  });
  const server = useServer('zk');

  beforeAll(async () => {
    parent = `/secure-${process.pid}`;
    secure = await digestOnlyZnode(server.connect, parent, 'alice:secret');
  });

  it('--user (and ELECT_USER) as the only user who may write there: leads, runs the command', async () => {
    const election = `${parent}/${unique('digest')}`;
    const base = ['-b', 'zk', '-c', server.connect, '-e', election, '--ttl', '4s'];
    await leadThenStop([...base, '--user', 'alice:secret'], {}, base, { ELECT_USER: 'alice:secret' });
  });

  it('without the user who may write there: elect run exits 77 (no permission) without running the command, saying so', async () => {
    const election = `${parent}/${unique('digest-denied')}`;
    const refused = await electOnce(['run', '-b', 'zk', '-c', server.connect, '-e', election, '--ttl', '4s', '--id', 'a', ...command]);
    expect(refused.exit.code).toBe(77);
    expect(refused.stdout).toEqual([]);
    expect(refused.events('permission-denied')).toEqual([expect.objectContaining({ user: null, msg: expect.stringMatching(/^permission denied without --user: ZooKeeper refused it \(NO_AUTH\)/) })]);
  });

  it('a chroot only that user may read: connecting without it exits 77 at once, saying the heartbeat needs READ there; with it, elect reads the election', async () => {
    const chrooted = ['-b', 'zk', '-c', `${server.connect}${parent}`, '-e', unique('chroot')];
    const refused = await electOnce(['leader', ...chrooted]);
    expect(refused.exit.code).toBe(77);
    expect(refused.events('permission-denied')).toEqual([expect.objectContaining({ msg: expect.stringMatching(/needs READ/) })]);
    const allowed = await electOnce(['leader', ...chrooted, '--user', 'alice:secret']);
    expect(allowed.exit.code).toBe(1); // nobody leads it
  });

  it('--acl auth::cdrwa,world:anyone:r with --user: what elect creates is that user\'s to change and anyone\'s to read; others cannot remove the leader\'s node or campaign (77)', async () => {
    const election = `/${unique('acl')}`;
    const base = ['-b', 'zk', '-c', server.connect, '-e', election, '--ttl', '4s'];
    const owned = ['--user', 'alice:secret', '--acl', 'auth::cdrwa,world:anyone:r'];
    const candidate = new Elect('a', [...base, ...owned, '--id', 'a', ...command]);
    const look = await anonymousZk(server.connect);
    try {
      await candidate.waitLine(/^running a \d+$/, 'the command to run');
      const leader = await electOnce(['leader', ...base, '--json']);
      expect({ code: leader.exit.code, id: (JSON.parse(leader.stdout.join('') || 'null') as { id?: string } | null)?.id }).toEqual({ code: 0, id: 'a' });
      const [node] = await look.children(election);
      // `auth` is filled in by the server as the creator's digest id (whose hash it hides from others).
      for (const path of [election, `${election}/${node}`]) expect(await look.acl(path)).toEqual([expect.stringMatching(/^digest:alice:[^:]+:cdrwa$/), 'world:anyone:r']);
      expect(await look.remove(`${election}/${node}`)).toBe(-102); // NO_AUTH
      const refused = await electOnce([...base, '--id', 'b', ...command]);
      expect(refused.exit.code).toBe(77);
      expect(refused.stdout).toEqual([]);
      candidate.kill('SIGTERM');
      await expect(candidate.waitExit()).resolves.toEqual({ code: 143, signal: null });
      // Nothing is left: no candidate (the election's node may have gone too: a container).
      expect(await look.children(election).catch((error: { code?: number }) => (error.code === -101 ? [] : Promise.reject(error)))).toEqual([]);
    } finally {
      look.close();
    }
  });

  it('a bad --acl is a usage error (64) naming the entry and why, before anything is sent; --acl is for ZooKeeper only', async () => {
    const election = `/${unique('acl-bad')}`;
    const base = ['leader', '-b', 'zk', '-c', server.connect, '-e', election];
    const cases: [string[], RegExp][] = [
      [['--acl', 'world:anyone'], /--acl: "world:anyone" is not SCHEME:ID:PERMISSIONS/],
      [['--acl', 'world:anyone:rx'], /--acl entry "world:anyone:rx": permissions must be letters from "cdrwa"/],
      [['--acl', 'auth::cdrwa'], /--acl entry "auth::cdrwa": the auth scheme .* needs credentials/],
      [['--acl', 'world:anyone:r'], /--acl world:anyone:r: gives a connection without credentials no "cdw"/],
      [['--user', 'alice:secret', '--acl', 'digest:alice:notherhash:cdrwa'], /no "cdrw" on the election.s nodes/],
    ];
    for (const [flags, message] of cases) {
      const refused = await electOnce([...base, ...flags]);
      expect({ flags, code: refused.exit.code }).toEqual({ flags, code: 64 });
      expect(refused.stderr.join('\n')).toMatch(message);
    }
    // One the server refuses (INVALID_ACL: no SASL on this server), when elect first writes with it: still 64, naming --acl.
    const sasl = 'sasl:alice:cdrwa, world:anyone:cdrwa';
    const late = await electOnce(['-b', 'zk', '-c', server.connect, '-e', election, '--acl', sasl, '--id', 'a', ...command]);
    expect({ code: late.exit.code, stdout: late.stdout }).toEqual({ code: 64, stdout: [] });
    expect(late.stderr.join('\n')).toMatch(/--acl sasl:alice:cdrwa, world:anyone:cdrwa: ZooKeeper refused it \(INVALID_ACL\)/);
    const chrooted = await electOnce(['leader', '-b', 'zk', '-c', `${server.connect}${election}-chroot`, '-e', 'x', '--acl', sasl]);
    expect(chrooted.exit.code).toBe(64);
    expect(chrooted.stderr.join('\n')).toMatch(/--acl sasl:.*INVALID_ACL/);
    const etcd = await electOnce(['leader', '-b', 'etcd', '-c', '127.0.0.1:1', '-e', 'x', '--acl', 'auth::cdrwa']);
    expect(etcd.exit.code).toBe(64);
    expect(etcd.stderr.join('\n')).toMatch(/--acl is for ZooKeeper/);
    const look = await anonymousZk(server.connect);
    try {
      for (const path of [election, `${election}-chroot`]) await expect(look.children(path)).rejects.toMatchObject({ code: -101 }); // NO_NODE: nothing was made
    } finally {
      look.close();
    }
  });

  it('a chroot to be made under a node only that user may write: without it, exits 77 naming the chroot; with it, the chroot is made', async () => {
    const chroot = `${parent}/${unique('made')}`;
    const args = ['leader', '-b', 'zk', '-c', `${server.connect}${chroot}`, '-e', 'job'];
    const refused = await electOnce(args);
    expect(refused.exit.code).toBe(77);
    expect(refused.events('permission-denied')).toEqual([expect.objectContaining({ msg: expect.stringContaining(`cannot create the chroot ${chroot}`) })]);
    expect((await electOnce([...args, '--user', 'alice:secret'])).exit.code).toBe(1);
  });
});
