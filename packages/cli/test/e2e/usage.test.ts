/**
 * Bad input gets the documented exit code and a message naming the problem,
 * and leaves nothing behind on the server.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { scaled } from '@elect/test';
import { Elect, electOnce, workerScript } from '../support/elect.js';
import { backends, useScratch, useServer } from '../support/server.js';

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(backends)('%s: bad input', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  /** The queue of `election`, as `elect candidates --json` reports it. */
  async function queue(election: string): Promise<{ id: string }[]> {
    const result = await electOnce(['candidates', ...server.args(election), '--json']);
    expect(result.exit.code).toBe(0);
    return JSON.parse(result.stdout.join('\n')) as { id: string }[];
  }

  it('usage errors: 64 and a message naming the problem', async () => {
    const election = server.election('usage');
    const cases: [string[], RegExp][] = [
      [[...server.args(election), '--bogus', '--', 'true'], /^elect: Unknown argument: bogus$/],
      [['-b', 'consul', '-e', election, '--', 'true'], /Invalid values: Argument: backend, Given: "consul", Choices: "zk", "etcd"/],
      [['-b', backend, '--', 'true'], /^elect: missing --election \(or ELECT_ELECTION\)$/],
      [[...server.args(election)], /^elect: no command given: put it after `--`/],
      [[...server.args(election), 'sleep', '1'], /Unknown arguments: sleep, 1 \(the command to run goes after `--`/],
      [[...server.args(election), '--grace', '10s', '--', 'true'], /^elect: --grace 10s is too long for --ttl 4s/],
      [[...server.args(election), '--wait', '5', '--', 'true'], /^elect: --wait: "5" has no unit; write 5s or 5ms/],
    ];
    for (const [args, message] of cases) {
      const result = await electOnce(args);
      expect({ args, code: result.exit.code }).toEqual({ args, code: 64 });
      expect(result.stderr[0]).toMatch(message);
      expect(result.stderr[1]).toBe("Run 'elect --help' for usage.");
      expect(result.stdout).toEqual([]);
    }
    const fromEnv = await electOnce(['-e', election, '--', 'true'], { ELECT_BACKEND: 'consul' });
    expect(fromEnv.exit.code).toBe(64);
    expect(fromEnv.stderr[0]).toBe('elect: ELECT_BACKEND: unknown value "consul"; expected one of zk, etcd');
    expect(await queue(election)).toEqual([]);
  });

  it('a bad election name: 64 before anything is sent to the backend', async () => {
    // A listener in the backend's place counts who comes: nobody may.
    const listener = createServer((socket) => {
      accepted += 1;
      socket.destroy();
    });
    let accepted = 0;
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as { port: number };
    const connect = backend === 'zk' ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
    try {
      const names = backend === 'zk' ? ['/zookeeper/x', '/a//b', '/a/'] : ['jobs/', 'a\nb'];
      for (const name of names) {
        for (const command of [['run'], ['leader'], ['observe'], ['candidates']]) {
          const args = [...command, '-b', backend, '-c', connect, '-e', name, '--connect-timeout', '2s', ...(command[0] === 'run' ? ['--', 'true'] : [])];
          const result = await electOnce(args);
          expect({ args, code: result.exit.code }).toEqual({ args, code: 64 });
          expect(result.stderr[0]).toMatch(
            backend === 'zk' ? /^elect: --election: ".*" is not a valid ZooKeeper path: / : /^elect: --election: must not (end with "\/"|contain NUL or line breaks)/,
          );
        }
      }
      expect(accepted).toBe(0);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('a missing command: 127; one that cannot be executed: 126 — before campaigning', async () => {
    const s = scratch();
    const election = server.election('cmd');
    const plain = path.join(s.dir, 'not-executable');
    writeFileSync(plain, '#!/bin/sh\necho hi\n');
    chmodSync(plain, 0o644);
    mkdirSync(path.join(s.dir, 'a-dir'));
    const missing = await electOnce([...server.args(election), '--', 'no-such-command-here']);
    expect(missing.exit.code).toBe(127);
    expect(missing.stderr).toEqual(['elect: no-such-command-here: command not found in PATH']);
    const relative = await electOnce([...server.args(election), '--', './nope']);
    expect(relative.exit.code).toBe(127);
    const notExec = await electOnce([...server.args(election), '--', plain]);
    expect(notExec.exit.code).toBe(126);
    expect(notExec.stderr).toEqual([`elect: ${plain}: cannot execute (permission denied)`]);
    const dir = await electOnce([...server.args(election), '--', path.join(s.dir, 'a-dir')]);
    expect(dir.exit.code).toBe(126);
    expect(await queue(election)).toEqual([]);
  });

  it('an unreachable server: 69 within the connect timeout, with a message naming the address', async () => {
    const port = await closedPort();
    const connect = backend === 'zk' ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
    const started = performance.now();
    const result = await electOnce(['-b', backend, '-c', connect, '-e', 'x', '--connect-timeout', '1500ms', '--', 'true']);
    expect(result.exit.code).toBe(69);
    expect(performance.now() - started).toBeLessThan(scaled(10_000));
    const record = result.logs.find((r) => r.event === 'unavailable');
    expect(record?.msg).toContain(`cannot reach ${backend} at ${connect}`);
    const leader = await electOnce(['leader', '-b', backend, '-c', connect, '-e', 'x', '--connect-timeout', '1500ms']);
    expect(leader.exit.code).toBe(69);
  });

  it('--wait expires: 124, and the waiting candidate leaves the queue', async () => {
    const s = scratch();
    const election = server.election('wait');
    const a = new Elect('a', [...server.args(election, '--id', 'a'), '--', workerScript], s.env);
    await a.waitLine(/^start a /, 'a to lead');
    const started = performance.now();
    const b = await electOnce([...server.args(election, '--id', 'b', '--wait', '1s'), '--', workerScript], s.env);
    expect(b.exit.code).toBe(124);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(b.stdout).toEqual([]);
    expect((await queue(election)).map((c) => c.id)).toEqual(['a']);
    a.kill('SIGTERM');
    await a.waitExit();
    expect(await queue(election)).toEqual([]);
  });

  it('elect inside elect: our exported ELECT_* and unknown ELECT_* variables do not break parsing', async () => {
    const s = scratch();
    const election = server.election('nested');
    // The command is itself `elect candidates`, run with the environment elect
    // gave it (ELECT_TOKEN, ELECT_LEADER=1, …) plus a stray ELECT_FOO.
    const inner = `exec "${process.execPath}" "${path.resolve(path.dirname(workerScript), '../../bin/elect.js')}" candidates --json -b "$ELECT_BACKEND" -c "${server.connect}" -e "$ELECT_ELECTION" --ttl 4s`;
    const outer = await electOnce([...server.args(election, '--id', 'outer'), '--', 'sh', '-c', inner], { ...s.env, ELECT_FOO: 'stray', ELECT_TEST_TIMING: '1' });
    expect(outer.exit.code).toBe(0);
    const seen = JSON.parse(outer.stdout.join('\n')) as { id: string; token: string }[];
    expect(seen.map((c) => c.id)).toEqual(['outer']);
  });
});
