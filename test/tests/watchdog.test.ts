/**
 * The watchdog's promise: when the process that started a server dies
 * without any cleanup (SIGKILL), the server's process group is killed and its
 * directory removed within moments. A stand-in "test process" (plain node)
 * starts a real etcd through watchdog.mjs, exactly as the harness does, and
 * is then SIGKILLed. (scripts/check-kill-cleanup.sh proves the same for a
 * whole jest run.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, expect, jest, test } from '@jest/globals';
import { freePorts, scaled, waitUntil, withTimeout } from '../src/index.js';
import { scriptPath } from '../src/janitor.js';

jest.setTimeout(scaled(60_000));

// The stand-in: starts the watchdog (own session, stdin pipe), registers a
// directory, has it spawn the server, prints the server's pid, then idles.
const standIn = `
import { spawn } from 'node:child_process';
import readline from 'node:readline';
const [watchdogPath, dir, command, ...args] = process.argv.slice(1);
const watchdog = spawn(process.execPath, [watchdogPath], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
const send = (message) => watchdog.stdin.write(JSON.stringify(message) + '\\n');
readline.createInterface({ input: watchdog.stdout }).on('line', (line) => {
  const reply = JSON.parse(line);
  if (reply.ready) {
    send({ op: 'path', path: dir });
    send({ op: 'spawn', id: 1, command, args, log: dir + '/server.log' });
  } else if (reply.id === 1) {
    console.log(JSON.stringify({ server: reply.pid, watchdog: watchdog.pid }));
  }
});
setInterval(() => {}, 1000);
`;

const started: number[] = [];
afterEach(() => {
  // Only if the test failed half-way: never leave what we started.
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

test('a SIGKILLed test process leaves no server and no directory behind', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-test-watchdog-'));
  const [client, peer] = await freePorts(2);
  const etcd = [
    '/usr/bin/etcd',
    '--name=w',
    `--data-dir=${dir}/data`,
    `--listen-client-urls=http://127.0.0.1:${client}`,
    `--advertise-client-urls=http://127.0.0.1:${client}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=w=http://127.0.0.1:${peer}`,
  ];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', standIn, scriptPath('watchdog.mjs'), dir, ...etcd], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  started.push(parent.pid!);
  const line = await withTimeout(
    new Promise<string>((resolve) => readline.createInterface({ input: parent.stdout! }).once('line', resolve)),
    10_000,
    'the stand-in to report the server pid',
  );
  const { server, watchdog } = JSON.parse(line) as { server: number; watchdog: number };
  started.push(server, watchdog);
  expect(alive(server)).toBe(true);
  // The server is a real etcd: it answers before we pull the plug.
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${client}/health`)).ok, { timeoutMs: 10_000, what: 'etcd to answer' });

  const exited = new Promise((resolve) => parent.once('exit', resolve));
  process.kill(parent.pid!, 'SIGKILL');
  await exited;

  await waitUntil(() => !alive(server) && !alive(watchdog) && !fs.existsSync(dir), {
    timeoutMs: 5000,
    what: 'the watchdog to kill etcd and remove its directory',
  });
});
