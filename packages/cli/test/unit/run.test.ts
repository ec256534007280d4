/**
 * run() end to end, but in memory: core's MemoryServer for the backend, fake
 * processes for the command. Fast checks of the decisions `elect run` makes —
 * which exit code, when to stop the command, what is left on the server.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ConnectionError } from '@elect/core';
import { ManualClock, MemoryServer, type MemoryConnection } from '@elect/core/testing';
import type { RunDeps } from '../../src/deps.js';
import { run } from '../../src/main.js';
import { watchdogHoldMs } from '../../src/run-command.js';
import { FakeProcesses, FakeSignals, FakeWatchdog, type FakeGroupOptions } from './fakes.js';

interface Harness {
  server: MemoryServer;
  processes: FakeProcesses;
  signals: FakeSignals;
  watchdog: FakeWatchdog;
  connections: MemoryConnection[];
  stdout: string[];
  logs: Record<string, unknown>[];
  /** Every line written to stderr, as written. */
  lines: string[];
  stderr: string[];
  /** Called with each log record as it is written (synchronously, inside the write). */
  onLog: (record: Record<string, unknown>) => void;
  /** The session timeout the server grants, as a ZooKeeper with a lower maxSessionTimeout would (default: --ttl). */
  grantedMs: number | undefined;
  /** The connection's heartbeat interval (default: the in-memory backend's, a third of the TTL). */
  heartbeatMs: number | undefined;
  /** Called with each new connection before `elect` gets it. */
  onConnect: (connection: MemoryConnection) => void;
  deps: Partial<RunDeps>;
}

const servers: MemoryServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function harness(group: FakeGroupOptions = {}, clock?: ManualClock): Harness {
  const server = new MemoryServer(clock ? { clock } : {});
  servers.push(server);
  const h: Harness = {
    server,
    processes: new FakeProcesses(group),
    signals: new FakeSignals(),
    watchdog: new FakeWatchdog(),
    connections: [],
    stdout: [],
    logs: [],
    lines: [],
    stderr: [],
    onLog: () => {},
    grantedMs: undefined,
    heartbeatMs: undefined,
    onConnect: () => {},
    deps: {},
  };
  h.deps = {
    env: { PATH: '/usr/bin:/bin', HOME: '/home/me' },
    stdout: { write: (chunk: string) => h.stdout.push(chunk) },
    stderr: {
      write: (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          h.lines.push(line);
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(line) as Record<string, unknown>;
          } catch {
            h.stderr.push(line);
            continue;
          }
          h.logs.push(record);
          h.onLog(record);
        }
        return true;
      },
    },
    stderrIsTTY: false,
    spawn: h.processes.spawn,
    kill: h.processes.kill,
    groupAlive: (pgid) => h.processes.groupAlive(pgid),
    signals: h.signals,
    watchdog: async () => h.watchdog,
    connect: async (settings) => {
      const connection = server.connect({
        sessionTimeoutMs: h.grantedMs ?? settings.ttlMs,
        ...(h.heartbeatMs === undefined ? {} : { heartbeatIntervalMs: h.heartbeatMs }),
        logger: settings.logger,
        ...(settings.telemetry ? { telemetry: settings.telemetry } : {}),
      });
      h.onConnect(connection);
      h.connections.push(connection);
      return connection;
    },
    hostname: 'box',
    pid: 7,
    cwd: '/',
  };
  return h;
}

const args = (...more: string[]): string[] => ['-b', 'zk', '-e', 'jobs', '--ttl', '10s', ...more, '--', '/bin/sh', '-c', 'work'];

/** The keys of a JSON object's top level as written, repeats included (JSON.parse keeps the last). */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < json.length; i += 1) {
    const c = json[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') {
        inString = false;
        if (depth === 1 && json[i + 1] === ':') keys.push(json.slice(start + 1, i));
      }
    } else if (c === '"') {
      inString = true;
      start = i;
    } else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') depth -= 1;
  }
  return keys;
}

/** Lets queued callbacks and microtasks run until `ready()` holds. */
async function until(ready: () => boolean, what: string, ms = 5_000): Promise<void> {
  const limit = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > limit) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('run() with an in-memory backend', () => {
  it('runs the command once leader, with ELECT_* in its env, and exits with its status; nothing is left behind', async () => {
    const h = harness();
    const code = run(args('--id', 'a'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    const { options } = h.processes.spawned[0] as FakeProcesses['spawned'][number];
    expect(h.processes.command()).toEqual({ argv: ['/bin/sh', '-c', 'work'], opened: true });
    const token = h.server.leader('jobs')?.token;
    // The gate is forked while elect campaigns, with everything but the
    // token, which it exports once opened.
    expect(options.env?.ELECT_TOKEN).toBeUndefined();
    expect(h.processes.commandEnv()).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      ELECT_BACKEND: 'zk',
      ELECT_ELECTION: 'jobs',
      ELECT_ID: 'a',
      ELECT_TOKEN: String(token),
      ELECT_LEADER: '1',
    });
    expect(options.detached).toBe(true);
    h.processes.child?.exit(9);
    await expect(code).resolves.toBe(9);
    expect(h.server.candidates('jobs')).toEqual([]);
    expect(h.watchdog.log).toEqual(['arm 4242', 'disarm', 'close']);
    expect(h.stdout).toEqual([]);
  });

  it('log lines are JSON with every key once, ours and the backend\'s', async () => {
    const h = harness();
    const code = run(args('--id', 'a', '--log-level', 'debug'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
    // The backend's lines, its connection's too, say which election and candidate they are about.
    expect(h.logs.filter((r) => r.component === 'zk' && ['connected', 'elected'].includes(r.event as string))).toEqual([
      expect.objectContaining({ event: 'connected', backend: 'zk', election: 'jobs', id: 'a' }),
      expect.objectContaining({ event: 'elected', backend: 'zk', election: 'jobs', id: 'a' }),
    ]);
    expect(h.logs.some((r) => r.component === undefined && r.id === 'a')).toBe(true);
    for (const line of h.lines) {
      const keys = topLevelKeys(line);
      expect({ line, repeated: keys.filter((k, i) => keys.indexOf(k) !== i) }).toEqual({ line, repeated: [] });
    }
  });

  it('the elected line counts the time to the deadline on the deadline\'s own clock, not the wall clock', async () => {
    const h = harness();
    // The wall clock set an hour ahead (an NTP step, an operator): nothing that times leadership may follow it.
    const wall = jest.spyOn(Date, 'now').mockImplementation(() => performance.timeOrigin + performance.now() + 3_600_000);
    try {
      const code = run(args('--id', 'a'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.processes.child?.exit(0);
      await expect(code).resolves.toBe(0);
    } finally {
      wall.mockRestore();
    }
    const elected = h.logs.find((r) => r.event === 'elected' && r.component === undefined);
    expect(elected?.deadlineInMs).toBeGreaterThan(0);
    expect(elected?.deadlineInMs).toBeLessThanOrEqual(10_000);
  });

  it('the default id is <hostname>-<pid>', async () => {
    const h = harness();
    const code = run(args(), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    expect(h.server.leader('jobs')?.id).toBe('box-7');
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
  });

  it('SIGINT while campaigning gives up the campaign: 130, our entry removed; SIGUSR1 is ignored', async () => {
    const h = harness();
    const other = await h.server.connect().election('jobs').campaign({ id: 'other' });
    const code = run(args('--id', 'a'), h.deps);
    await until(() => h.server.candidates('jobs').length === 2, 'our entry');
    h.signals.send('SIGUSR1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.server.candidates('jobs').map((c) => c.id)).toEqual(['other', 'a']);
    h.signals.send('SIGINT');
    await expect(code).resolves.toBe(130);
    expect(h.server.candidates('jobs').map((c) => c.id)).toEqual(['other']);
    // The command's gate, forked for the campaign, was let go unopened.
    expect(h.processes.started()).toBe(false);
    expect(h.processes.gates[0]?.closed).toBe(true);
    await other.resign();
  });

  it('forks the command\'s gate while it campaigns, and opens that same gate once elected', async () => {
    const h = harness();
    const other = await h.server.connect().election('jobs').campaign({ id: 'other' });
    const code = run(args('--id', 'a'), h.deps);
    await until(() => h.server.candidates('jobs').length === 2, 'our entry');
    expect(h.processes.command()).toEqual({ argv: ['/bin/sh', '-c', 'work'], opened: false });
    expect(h.watchdog.log).toEqual([]);
    await other.resign();
    await until(() => h.processes.started(), 'the command to start');
    expect(h.processes.spawned).toHaveLength(1);
    expect(h.processes.commandEnv()?.ELECT_TOKEN).toBe(String(h.server.leader('jobs')?.token));
    expect(h.watchdog.log).toEqual(['arm 4242']);
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
  });

  it('--wait expires: 124, our entry removed, the gate let go', async () => {
    const h = harness();
    const other = await h.server.connect().election('jobs').campaign({ id: 'other' });
    await expect(run(args('--id', 'a', '--wait', '50ms'), h.deps)).resolves.toBe(124);
    expect(h.server.candidates('jobs').map((c) => c.id)).toEqual(['other']);
    expect(h.processes.started()).toBe(false);
    expect(h.processes.gates[0]?.closed).toBe(true);
    await other.resign();
  });

  it('a gate that died while elect waited is replaced by a fresh one when elected', async () => {
    const h = harness();
    const other = await h.server.connect().election('jobs').campaign({ id: 'other' });
    const code = run(args('--id', 'a'), h.deps);
    await until(() => h.server.candidates('jobs').length === 2, 'our entry');
    // Someone kills the waiting gate.
    h.processes.child?.exit(null, 'SIGKILL');
    await other.resign();
    await until(() => h.processes.started(1), 'the command to start');
    expect(h.processes.started(0)).toBe(false);
    expect(h.processes.spawned).toHaveLength(2);
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
  });

  it('signals while the command runs go to its group, not to elect', async () => {
    const h = harness({ ignoresTerm: true });
    const code = run(args(), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    h.signals.send('SIGTERM');
    expect(h.processes.kills).toContainEqual([-4242, 'SIGTERM']);
    h.signals.send('SIGHUP');
    await expect(code).resolves.toBe(129);
  });

  it('the session expires under the command: SIGKILL at once, exit 75', async () => {
    const h = harness({ ignoresTerm: true });
    const code = run(args('--id', 'a'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    h.connections[0]?.expire();
    await expect(code).resolves.toBe(75);
    expect(h.processes.signalsSent()).toEqual(['SIGKILL']);
    expect(h.logs.some((r) => r.event === 'lost' && r.reason === 'session-expired' && r.component === undefined)).toBe(true);
  });

  it('with --rejoin, campaigns again after a loss and runs the command again with a larger token', async () => {
    const h = harness();
    const code = run(args('--id', 'a', '--rejoin'), h.deps);
    await until(() => h.processes.started(0), 'the first command');
    const first = BigInt(h.processes.commandEnv(0)?.ELECT_TOKEN as string);
    h.connections[0]?.expire();
    await until(() => h.processes.started(1), 'the second command');
    const second = BigInt(h.processes.commandEnv(1)?.ELECT_TOKEN as string);
    expect(second).toBeGreaterThan(first);
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
  });

  describe('a signal to elect always ends it with 128 + n, whenever it comes', () => {
    /** Sends `signal` to elect from inside the write of the first log line that `when` picks. */
    const sendOn = (h: Harness, signal: NodeJS.Signals, when: (record: Record<string, unknown>) => boolean): void => {
      let sent = false;
      h.onLog = (record) => {
        if (sent || record.component !== undefined || !when(record)) return;
        sent = true;
        h.signals.send(signal);
      };
    };

    it('after a loss, while cleaning up: no second campaign with --rejoin', async () => {
      const h = harness();
      sendOn(h, 'SIGTERM', (r) => r.event === 'lost');
      const code = run(args('--id', 'a', '--rejoin'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.connections[0]?.expire();
      await expect(code).resolves.toBe(143);
      expect(h.processes.spawned).toHaveLength(1);
      expect(h.server.candidates('jobs')).toEqual([]);
    });

    it('after a loss, while cleaning up, without --rejoin: 128 + n, not 75', async () => {
      const h = harness({ ignoresTerm: true });
      sendOn(h, 'SIGINT', (r) => r.event === 'stopped');
      const code = run(args('--id', 'a'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.connections[0]?.expire();
      await expect(code).resolves.toBe(130);
      // The command had exited: the signal was not passed on to its group.
      expect(h.processes.signalsSent()).toEqual(['SIGKILL']);
    });

    it('after the command exited by itself, while resigning: not passed on to a group that is gone', async () => {
      const h = harness();
      sendOn(h, 'SIGHUP', (r) => r.event === 'exited');
      const code = run(args('--id', 'a'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.processes.child?.exit(0);
      await expect(code).resolves.toBe(129);
      expect(h.processes.signalsSent()).toEqual([]);
      expect(h.server.candidates('jobs')).toEqual([]);
    });

    it('while stopping what the command left behind: the cleanup is cut short (SIGKILL), then 128 + n', async () => {
      // Leftovers that ignore SIGTERM would otherwise get the whole --grace (30 s here).
      const h = harness({ leftovers: 'ignore-term' });
      sendOn(h, 'SIGTERM', (r) => r.event === 'leftovers');
      const code = run(args('--id', 'a', '--grace', '30s', '--ttl', '200s'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.processes.child?.exit(0);
      await expect(code).resolves.toBe(143);
      expect(h.processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
      expect(h.server.candidates('jobs')).toEqual([]);
    });

    it('while the connection is being closed, after the command exited by itself', async () => {
      const h = harness();
      h.onConnect = (connection) => {
        const close = connection.close.bind(connection);
        connection.close = () => {
          h.signals.send('SIGTERM');
          return close();
        };
      };
      const code = run(args('--id', 'a'), h.deps);
      await until(() => h.processes.started(), 'the command to start');
      h.processes.child?.exit(0);
      await expect(code).resolves.toBe(143);
      expect(h.server.candidates('jobs')).toEqual([]);
    });

    it('SIGUSR1 and SIGUSR2 outside a term are ignored, and elect goes on', async () => {
      const h = harness();
      sendOn(h, 'SIGUSR2', (r) => r.event === 'lost');
      const code = run(args('--id', 'a', '--rejoin'), h.deps);
      await until(() => h.processes.started(0), 'the first command');
      h.connections[0]?.expire();
      await until(() => h.processes.started(1), 'the second command');
      expect(h.logs.some((r) => r.event === 'signal' && r.signal === 'SIGUSR2' && r.component === undefined)).toBe(true);
      h.processes.child?.exit(0);
      await expect(code).resolves.toBe(0);
    });
  });

  it('connection trouble: the command is stopped ahead of the loss deadline (SIGTERM first), exit 75', async () => {
    const clock = new ManualClock(1_000_000);
    const h = harness({}, clock);
    const code = run(args('--id', 'a', '--grace', '1s'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    h.connections[0]?.suspend();
    // deadline = last contact + 10s − 1s margin; the stop starts grace + 300ms before it.
    clock.advance(7_000);
    expect(h.processes.signalsSent()).toEqual([]);
    clock.advance(800);
    await until(() => h.processes.child?.exited === true, 'the command to be stopped');
    expect(h.processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
    clock.advance(5_000);
    await expect(code).resolves.toBe(75);
  });

  it('elected with less time to the loss deadline than --grace needs: the command never starts; our entry goes, exit 75', async () => {
    const clock = new ManualClock(1_000_000);
    const h = harness({}, clock);
    // A heartbeat only every 8 s: between two, the deadline (last contact + 10 s − 1 s) comes near.
    h.heartbeatMs = 8_000;
    const other = await h.server.connect().election('jobs').campaign({ id: 'other' });
    const code = run(args('--id', 'a', '--grace', '2s'), h.deps);
    await until(() => h.server.candidates('jobs').length === 2, 'our entry');
    // 2 s left at the handoff, against --grace 2s + the 300 ms stop margin.
    clock.advance(7_000);
    await other.resign();
    await expect(code).resolves.toBe(75);
    expect(h.logs.find((r) => r.event === 'deadline-too-close')).toMatchObject({ graceMs: 2_000 });
    expect(h.processes.started()).toBe(false);
    expect(h.processes.signalsSent()).toEqual([]);
    expect(h.server.keys('jobs')).toEqual([]);
    expect(h.processes.gates[0]?.closed).toBe(true);
  });

  it('--metrics: /readyz follows the session (503 while suspended, 200 once answered again); /metrics shows the leader; the port closes with elect', async () => {
    const clock = new ManualClock(1_000_000);
    const h = harness({}, clock);
    const code = run(args('--id', 'a', '--grace', '1s', '--metrics', '127.0.0.1:0'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    const url = h.logs.find((r) => r.event === 'metrics')?.url as string;
    const readyz = url.replace('/metrics', '/readyz');
    expect((await fetch(readyz)).status).toBe(200);
    expect(await (await fetch(url)).text()).toMatch(/^elect_is_leader\{election="jobs",id="a"\} 1$/m);
    h.connections[0]?.suspend();
    clock.advance(3_334); // the next heartbeat (every 10 s / 3) goes unanswered
    expect(await (await fetch(readyz)).text()).toBe('session suspended\n');
    expect((await fetch(readyz)).status).toBe(503);
    expect(await (await fetch(url)).text()).toMatch(/^elect_session_state\{connection="zk",state="suspended"\} 1$/m);
    h.connections[0]?.heal();
    expect((await fetch(readyz)).status).toBe(200);
    h.processes.child?.exit(0);
    await expect(code).resolves.toBe(0);
    await expect(fetch(readyz)).rejects.toThrow();
  });

  it('a server granting a shorter TTL than --ttl: the stop follows the granted one, and a healthy command runs on', async () => {
    const clock = new ManualClock(1_000_000);
    const h = harness({}, clock);
    // As a ZooKeeper whose maxSessionTimeout is 2 s answers a request for 10 s.
    h.grantedMs = 2_000;
    const code = run(args('--id', 'a', '--grace', '2s'), h.deps);
    await until(() => h.processes.started(), 'the command to start');
    const warning = h.logs.find((r) => r.event === 'grace-shortened');
    // On zk a 2 s session keeps its deadline 800 ms ahead at least: 800 − 250 − 300 ms.
    expect(warning).toMatchObject({ ttlMs: 10_000, grantedTtlMs: 2_000, graceMs: 2_000, usingGraceMs: 250 });
    expect(h.logs.find((r) => r.event === 'elected' && r.component === undefined)?.ttlMs).toBe(2_000);
    // Heartbeats every 2 s / 3 keep the deadline 1.1-1.8 s ahead: a stop
    // planned for --grace 2s (+300 ms) would begin at once.
    for (let i = 0; i < 60; i += 1) {
      clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(h.processes.signalsSent()).toEqual([]);
    expect(h.processes.child?.exited).toBe(false);
    // Cut off: the stop begins 250 + 300 ms before the deadline, not earlier.
    const connection = h.connections[0] as MemoryConnection;
    connection.suspend();
    const deadline = connection.session?.liveness.deadline.deadline as number;
    clock.advance(deadline - 551 - clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.processes.signalsSent()).toEqual([]);
    clock.advance(1);
    await until(() => h.processes.child?.exited === true, 'the command to be stopped');
    expect(h.processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
    clock.advance(5_000);
    await expect(code).resolves.toBe(75);
  });

  it('usage errors, unreachable backends and inspection exit codes', async () => {
    const h = harness();
    await expect(run(['--nope'], h.deps)).resolves.toBe(64);
    expect(h.stderr).toEqual(['elect: Unknown argument: nope', "Run 'elect --help' for usage."]);
    const negative = harness();
    await expect(run(['-b', 'zk', '-e', 'jobs', '--ttl', '-5s', '--', 'x'], negative.deps)).resolves.toBe(64);
    expect(negative.stderr[0]).toBe('elect: --ttl: "-5s" is negative; write a duration such as 500ms, 10s or 2m');
    await expect(run(['--help'], h.deps)).resolves.toBe(0);
    expect(h.stdout.join('')).toContain('Exit codes:');

    const down = harness();
    down.deps.connect = async () => {
      throw new ConnectionError('nobody home');
    };
    await expect(run(args(), down.deps)).resolves.toBe(69);
    expect(down.logs.find((r) => r.event === 'unavailable')?.msg).toBe('cannot reach zk at 127.0.0.1:2181: nobody home');

    const inspect = harness();
    await expect(run(['leader', '-b', 'etcd', '-e', 'jobs'], inspect.deps)).resolves.toBe(1);
    const held = await inspect.server.connect().election('jobs').campaign({ id: 'x', value: 'v 1' });
    await expect(run(['leader', '-b', 'etcd', '-e', 'jobs'], inspect.deps)).resolves.toBe(0);
    expect(inspect.stdout).toEqual([`x\t${held.token}\tv 1\n`]);
    await held.resign();
  });
});

describe('watchdogHoldMs', () => {
  it('a tenth of the TTL, and a third of grace + margin, within 20 ms .. 1 s', () => {
    expect(watchdogHoldMs(2_000, 200)).toBe(167);
    expect(watchdogHoldMs(4_000, 1_000)).toBe(400);
    expect(watchdogHoldMs(60_000, 15_000)).toBe(1_000);
    expect(watchdogHoldMs(2_000, 0)).toBe(100);
  });
});
