/**
 * Against real etcd members configured for them: password auth (users and
 * roles created here with etcdctl), and TLS with client-certificate auth
 * (certificates made here with openssl).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Etcd3 } from 'etcd3';
import { ConnectionError, ErrorCode, isElectError, type LeaderInfo } from '@elect/core';
import { connectEtcd } from '@elect/etcd';
import { type Certificates, type Cluster, type TlsMember, enableEtcdAuth, makeCertificates, scaled, startEtcd, startEtcdProcess, startProxy, startTlsEtcd } from '@elect/test';
import { Queue, RecordingLogger, TTL_MS, eventually, expectClean, residue, uniqueName } from './support/harness.js';

jest.setTimeout(scaled(60_000));

const run = promisify(execFile);

/** The members' `--auth-token-ttl` (seconds, etcd's unit): a simple token unused that long is invalid. */
const TOKEN_TTL_S = 1;


describe('password auth', () => {
  let cluster: Cluster;
  let root: Etcd3;
  const endpoint = (): string => cluster.endpoints[0]!;

  beforeAll(async () => {
    // Tokens expire after TOKEN_TTL_S unused, so every test also rides through re-authentication.
    cluster = await startEtcd({ size: 1, extraArgs: [`--auth-token-ttl=${TOKEN_TTL_S}`] });
    ({ root } = await enableEtcdAuth(endpoint()));
  });

  afterAll(async () => {
    root?.close();
    await cluster?.close();
  });

  it('campaigns, observes and resigns with a user allowed on the prefix', async () => {
    const name = `app/${uniqueName()}`;
    const conn = await connectEtcd({ endpoints: endpoint(), ttlMs: TTL_MS, username: 'elector', password: 'secret' });
    try {
      const election = conn.election(name);
      const seen = new Queue<LeaderInfo | undefined>(election.observe());
      expect(await seen.next()).toBeUndefined();
      const leadership = await election.campaign({ id: 'authorised' });
      expect(await seen.next()).toMatchObject({ id: 'authorised' });
      expect(await residue(root, name)).toEqual([leadership.key]);
      await leadership.resign();
      expect(await seen.next()).toBeUndefined();
    } finally {
      await conn.close();
    }
    await expectClean(root, 'app/');
  });

  it('a prefix the user may not write: campaign and observe fail with PermissionDeniedError, not retryable; nothing written', async () => {
    const name = `forbidden/${uniqueName()}`;
    const conn = await connectEtcd({ endpoints: endpoint(), ttlMs: TTL_MS, username: 'elector', password: 'secret' });
    try {
      const error = await conn.election(name).campaign({ id: 'intruder' }).catch((e: unknown) => e);
      expect(isElectError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'PermissionDeniedError', code: ErrorCode.PermissionDenied, retryable: false });
      const seen = new Queue<LeaderInfo | undefined>(conn.election(name).observe());
      await expect(seen.next()).rejects.toMatchObject({ code: ErrorCode.PermissionDenied, retryable: false });
      expect(await residue(root, name)).toEqual([]);
    } finally {
      await conn.close();
    }
    await expectClean(root, 'forbidden/');
  });

  it('outlives its auth token: streams restarted after the token expired authenticate again', async () => {
    const name = `app/${uniqueName()}`;
    const member = cluster.members[0]!;
    const proxies = await Promise.all([0, 1].map(() => startProxy({ host: member.host, port: member.clientPort })));
    const options = { ttlMs: TTL_MS, username: 'elector', password: 'secret' };
    const a = await connectEtcd({ endpoints: endpoint(), ...options });
    const loggers = proxies.map(() => new RecordingLogger());
    const [b, o] = await Promise.all(proxies.map((p, i) => connectEtcd({ endpoints: p.address, ...options, logger: loggers[i]! })));
    try {
      const la = await a.election(name).campaign({ id: 'a' });
      const waiting = b!.election(name).campaign({ id: 'b' });
      await eventually(async () => (await residue(root, name)).length === 2, 'b to queue');
      const seen = new Queue<LeaderInfo | undefined>(o!.election(name).observe());
      expect((await seen.next())?.id).toBe('a');
      // Not synchronisation but the scenario: stay quiet past the token TTL
      // (and etcd's one-second check) so every cached token has expired...
      await new Promise((r) => setTimeout(r, (TOKEN_TTL_S + 1) * 1000 + scaled(500)));
      // ...then break the waiter's and the observer's streams: they come back
      // on the cached, expired token and must authenticate again.
      for (const p of proxies) p.cut();
      await eventually(() => loggers.every((logger) => logger.count('watch-restart') > 0), 'both streams to break');
      for (const p of proxies) p.heal();
      // b learns of a's resignation only through its restarted watch.
      await la.resign();
      const lb = await waiting;
      expect((await seen.next())?.id).toBe('b');
      await lb.resign();
      expect(await seen.next()).toBeUndefined();
    } finally {
      await Promise.all([a, b!, o!].map((c) => c.close()));
      await Promise.all(proxies.map((p) => p.close()));
    }
    await expectClean(root, 'app/');
  });

  it('a wrong password is a ConnectionError that retrying will not fix, at once', async () => {
    const started = Date.now();
    const error = await connectEtcd({ endpoints: endpoint(), ttlMs: TTL_MS, username: 'elector', password: 'wrong', connectTimeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(scaled(5000));
  });
});

describe('users and roles changed while connected', () => {
  let cluster: Cluster;
  let root: Etcd3;
  let etcdctl: (...args: string[]) => Promise<unknown>;

  let keys: string;

  beforeAll(async () => {
    // JWT tokens carry the auth revision they were issued at (simple tokens are
    // checked against the current one), so only they can grow old. The member
    // runs as a local process here in both runtimes: it reads the keys from disk.
    keys = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-etcd-jwt-'));
    await run('openssl', ['genrsa', '-out', path.join(keys, 'jwt.key'), '2048']);
    await run('openssl', ['rsa', '-in', path.join(keys, 'jwt.key'), '-pubout', '-out', path.join(keys, 'jwt.pub')]);
    cluster = await startEtcdProcess({
      size: 1,
      extraArgs: [`--auth-token=jwt,pub-key=${path.join(keys, 'jwt.pub')},priv-key=${path.join(keys, 'jwt.key')},sign-method=RS256,ttl=10m`],
    });
    ({ root, etcdctl } = await enableEtcdAuth(cluster.endpoints[0]!));
  });

  afterAll(async () => {
    root?.close();
    await cluster?.close();
    fs.rmSync(keys, { recursive: true, force: true });
  });

  it('a token issued before a user was added ("revision of auth store is old"): calls and new watches authenticate again', async () => {
    const name = `app/${uniqueName()}`;
    const logger = new RecordingLogger();
    const conn = await connectEtcd({ endpoints: cluster.endpoints[0]!, ttlMs: TTL_MS, username: 'elector', password: 'secret', logger });
    try {
      const election = conn.election(name);
      const a = await election.campaign({ id: 'a' });
      // Any change to users or roles moves etcd's auth revision past our token's.
      const bump = (): Promise<unknown> => etcdctl('--user=root:rootpw', 'user', 'add', `other-${uniqueName()}:pw`);
      await bump();
      // A new watch on the old token...
      const seen = new Queue<LeaderInfo | undefined>(conn.election(name).observe());
      expect((await seen.next())?.id).toBe('a');
      await bump();
      // ...and a write (the second candidate's campaign transaction) on the next old one.
      const b = election.campaign({ id: 'b' });
      await eventually(async () => (await residue(root, name)).length === 2, 'b to queue');
      await a.resign();
      expect((await b).isLeader).toBe(true);
      expect((await seen.next())?.id).toBe('b');
      await (await b).resign();
      expect(await seen.next()).toBeUndefined();
    } finally {
      await conn.close();
    }
    await expectClean(root, 'app/');
  });
});

describe('TLS with client certificates', () => {
  let certs: Certificates;
  let member: TlsMember;

  beforeAll(async () => {
    certs = makeCertificates();
    member = await startTlsEtcd(certs);
  });

  afterAll(async () => {
    await member?.close();
    certs?.close();
  });

  it('connects with the CA and a client certificate (PEM strings or Buffers) and elects', async () => {
    const name = uniqueName();
    const conn = await connectEtcd({
      endpoints: member.endpoint,
      ttlMs: TTL_MS,
      tls: { ca: certs.ca, cert: Buffer.from(certs.clientCert), key: certs.clientKey },
    });
    try {
      const leadership = await conn.election(name).campaign({ id: 'tls' });
      expect((await conn.election(name).leader())?.id).toBe('tls');
      expect(await residue(member.admin, name)).toEqual([leadership.key]);
      await leadership.resign();
    } finally {
      await conn.close();
    }
    await expectClean(member.admin, '');
  });

  it('endpoints without a scheme use https when tls is set', async () => {
    const conn = await connectEtcd({
      endpoints: member.endpoint.replace('https://', ''),
      ttlMs: TTL_MS,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    await conn.close();
    await expectClean(member.admin, '');
  });

  it('without a client certificate, or trusting the wrong CA: ConnectionError within connectTimeoutMs', async () => {
    for (const tls of [{ ca: certs.ca }, { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey }]) {
      const started = Date.now();
      const error = await connectEtcd({ endpoints: member.endpoint, ttlMs: TTL_MS, connectTimeoutMs: 1500, tls }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(Date.now() - started).toBeLessThan(1500 + scaled(2000));
    }
    await expectClean(member.admin, '');
  });
});
