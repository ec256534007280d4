/**
 * One etcd member for the benchmarks: `/usr/bin/etcd` on ports from the OS,
 * in a temp dir, killed by its PID and removed on close. (The benchmarks do
 * not depend on the test harness, so they run from a plain build.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Server {
  endpoint: string;
  close(): Promise<void>;
}

export async function startServer(): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-bench-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const log = fs.openSync(path.join(dir, 'etcd.log'), 'w');
  const child = spawn(
    process.env.ELECT_BENCH_ETCD ?? '/usr/bin/etcd',
    [
      '--name=bench',
      `--data-dir=${path.join(dir, 'data')}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=bench=http://127.0.0.1:${peer}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const probe = new Etcd3({ hosts: endpoint, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 1000 }) });
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.get('ready').exec();
        break;
      } catch (error) {
        if (i > 100) throw error;
        await delay(100);
      }
    }
  } catch (error) {
    await close();
    throw error;
  } finally {
    probe.close();
  }
  return { endpoint, close };
}
