/**
 * TLS fixtures: a CA, a server certificate for 127.0.0.1 and a client
 * certificate, made with openssl in a temp dir; and one etcd member serving
 * https with client-certificate auth. The shared harness starts members with
 * http:// client URLs (and probes them over http), so this one member is
 * started here — by PID, killed by PID, its directory removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePorts, waitUntil } from '@elect/test';

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
