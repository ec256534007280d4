/**
 * Servers with their security on, for the tests of what users deploy:
 *
 * - TLS fixtures: a CA, a server certificate for 127.0.0.1 and a client
 *   certificate, made with openssl in a temp dir; and one etcd member
 *   serving https with client-certificate auth. The other members of this
 *   harness have http:// client URLs (and are probed over http), so this one
 *   is started here — by PID, killed by PID, its directory removed.
 * - etcd password auth: users and roles added with etcdctl, then auth on.
 * - A ZooKeeper node only one digest user may use.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { freePorts, waitUntil } from '@elect/testcontainers';

export interface Certificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing we use: connections trusting only it must fail. */
  otherCa: string;
  close(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

export function makeCertificates(): Certificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-etcd-tls-'));
  const ca = (name: string): void => {
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
  };
  const leaf = (name: string, cn: string, ext: string): void => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  ca('ca');
  ca('other-ca');
  leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  leaf('client', 'elect-client', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
  return {
    dir,
    ca: read('ca.crt'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.crt'),
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsMember {
  /** `https://127.0.0.1:port`. */
  endpoint: string;
  admin: Etcd3;
  close(): Promise<void>;
}

/** One etcd member on https with `--client-cert-auth`; resolves once it answers a real request. */
export async function startTlsEtcd(certs: Certificates): Promise<TlsMember> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-etcd-tls-member-'));
  const [client, peer] = (await freePorts(2)) as [number, number];
  const endpoint = `https://127.0.0.1:${client}`;
  const log = fs.openSync(path.join(dir, 'etcd.log'), 'w');
  const child: ChildProcess = spawn(
    '/usr/bin/etcd',
    [
      '--name=tls1',
      `--data-dir=${path.join(dir, 'data')}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=tls1=http://127.0.0.1:${peer}`,
      `--cert-file=${certs.serverCert}`,
      `--key-file=${certs.serverKey}`,
      `--trusted-ca-file=${path.join(certs.dir, 'ca.crt')}`,
      '--client-cert-auth',
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const admin = new Etcd3({
    hosts: endpoint,
    credentials: { rootCertificate: Buffer.from(certs.ca), certChain: Buffer.from(certs.clientCert), privateKey: Buffer.from(certs.clientKey) },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2000 }),
  });
  const close = async (): Promise<void> => {
    admin.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(async () => (await admin.get('ready').exec()).header !== undefined, { timeoutMs: 20_000, what: 'the TLS etcd member to serve' });
  } catch (error) {
    await close();
    throw error;
  }
  return { endpoint, admin, close };
}

/**
 * Users and roles for a member without them, then auth on: root (password
 * rootpw) and `elector` (password secret), who may read and write `app/`.
 */
export async function enableEtcdAuth(endpoint: string): Promise<{ root: Etcd3; etcdctl: (...args: string[]) => Promise<unknown> }> {
  const run = promisify(execFile);
  const etcdctl = (...args: string[]): Promise<unknown> => run('etcdctl', [`--endpoints=${endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  await etcdctl('user', 'add', 'root:rootpw');
  await etcdctl('user', 'grant-role', 'root', 'root');
  await etcdctl('role', 'add', 'elector');
  await etcdctl('role', 'grant-permission', 'elector', '--prefix=true', 'readwrite', 'app/');
  await etcdctl('user', 'add', 'elector:secret');
  await etcdctl('user', 'grant-role', 'elector', 'elector');
  await etcdctl('auth', 'enable');
  const root = new Etcd3({ hosts: endpoint, auth: { username: 'root', password: 'rootpw' }, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 3000 }) });
  return { root, etcdctl };
}

/**
 * Creates `path` (its parent must exist) with an ACL that gives everything
 * to the digest user `credentials` (`user:password`) and nothing to anyone
 * else. `remove()` deletes it and whatever was created under it, as that
 * user.
 */
export async function digestOnlyZnode(connectString: string, path: string, credentials: string): Promise<{ remove(): Promise<void> }> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, retries: 0 });
  client.addAuthInfo('digest', Buffer.from(credentials));
  const call = <T>(op: (done: (error: unknown, result?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => op((error, result) => (error ? reject(error) : resolve(result as T))));
  await new Promise<void>((resolve) => {
    client.once('connected', () => resolve());
    client.connect();
  });
  try {
    const acl = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('auth', ''))];
    await call((done) => client.create(path, Buffer.alloc(0), acl, zookeeper.CreateMode.PERSISTENT, done));
  } catch (error) {
    client.close();
    throw error;
  }
  const removeTree = async (node: string): Promise<void> => {
    const children = await call<string[]>((done) => client.getChildren(node, done));
    for (const child of children) await removeTree(`${node}/${child}`);
    await call((done) => client.remove(node, -1, done));
  };
  return {
    remove: async () => {
      try {
        await removeTree(path);
      } finally {
        client.close();
      }
    },
  };
}

/** What a ZooKeeper client without credentials sees of a node, and may do to it. */
export interface AnonymousZk {
  children(path: string): Promise<string[]>;
  /** The node's ACL as ZooKeeper writes it: `scheme:id:perms` (perms from `cdrwa`; a digest's hash is hidden from us). */
  acl(path: string): Promise<string[]>;
  /** Deletes it; resolves with ZooKeeper's error code (0: deleted, -102: NO_AUTH, …). */
  remove(path: string): Promise<number>;
  close(): void;
}

export async function anonymousZk(connectString: string): Promise<AnonymousZk> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, retries: 0 });
  await new Promise<void>((resolve) => {
    client.once('connected', () => resolve());
    client.connect();
  });
  const call = <T>(op: (done: (error: unknown, result?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => op((error, result) => (error ? reject(error) : resolve(result as T))));
  const letters: [number, string][] = [
    [zookeeper.Permission.CREATE, 'c'],
    [zookeeper.Permission.DELETE, 'd'],
    [zookeeper.Permission.READ, 'r'],
    [zookeeper.Permission.WRITE, 'w'],
    [zookeeper.Permission.ADMIN, 'a'],
  ];
  return {
    children: (path) => call<string[]>((done) => client.getChildren(path, done)),
    acl: async (path) => {
      // (The library's ACL has `permission`, not the `perms` its types name.)
      const acls = await call<{ permission: number; id: zookeeper.Id }[]>((done) => client.getACL(path, done as never));
      return acls.map((entry) => `${entry.id.scheme}:${entry.id.id}:${letters.filter(([bit]) => (entry.permission & bit) !== 0).map(([, l]) => l).join('')}`);
    },
    remove: (path) =>
      new Promise((resolve) => client.remove(path, -1, (error) => resolve((error as { code?: number } | null)?.code ?? 0))),
    close: () => client.close(),
  };
}
