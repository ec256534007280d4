// runWhileLeader on the in-memory backend: every way a term of office ends.
import { afterEach, describe, expect, it } from '@jest/globals';
import { LeadershipLostError, isCampaignTimeout, runWhileLeader, type Election, type Leadership } from '@elect/core';
import { ManualClock, MemoryServer, signalHolds, type MemoryConnection } from '@elect/core/testing';

let server: MemoryServer;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function open(clock?: ManualClock): { connection: MemoryConnection; election: Election } {
  server ??= new MemoryServer(clock ? { clock } : {});
  const connection = server.connect({ sessionTimeoutMs: 1000 });
  return { connection, election: connection.election('jobs') };
}

/** A task that runs until its signal aborts, then settles as told; counts concurrent runs. */
function controllable(settle: 'resolve' | 'reject-reason' | 'reject-own' | 'ignore' = 'resolve') {
  const state = { started: 0, running: 0, maxRunning: 0, leaderships: [] as Leadership[] };
  const task = (leadership: Leadership): Promise<string> => {
    state.started++;
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    state.leaderships.push(leadership);
    return new Promise<string>((resolve, reject) => {
      leadership.signal.addEventListener('abort', () => {
        if (settle === 'ignore') return;
        state.running--;
        if (settle === 'resolve') resolve('stopped');
        else if (settle === 'reject-reason') reject(leadership.signal.reason);
        else reject(new Error('the task broke while stopping'));
      });
    });
  };
  return { task, state };
}

afterEach(async () => {
  await server?.close();
  server = undefined as unknown as MemoryServer;
});

describe('runWhileLeader: the task ends by itself', () => {
  it("resolves with the task's value after resigning; the task ran as leader with a token", async () => {
    const { election } = open();
    let seen: { token: bigint; isLeader: boolean } | undefined;
    const result = await runWhileLeader(election, (leadership) => {
      seen = { token: leadership.token, isLeader: leadership.isLeader };
      return 42;
    }, { id: 'worker' });
    expect(result).toBe(42);
    expect(seen).toEqual({ token: expect.any(BigInt), isLeader: true });
    expect(server.keys('jobs')).toEqual([]);
  });

  it("rejects with the task's own error (async or thrown) after resigning", async () => {
    const { election } = open();
    const boom = new Error('boom');
    await expect(runWhileLeader(election, async () => Promise.reject(boom), { id: 'w' })).rejects.toBe(boom);
    await expect(runWhileLeader(election, () => { throw boom; }, { id: 'w' })).rejects.toBe(boom);
    expect(server.keys('jobs')).toEqual([]);
  });

  it('a task that resigns by itself resolves with its value', async () => {
    const { election } = open();
    const result = await runWhileLeader(election, async (leadership) => {
      await leadership.resign();
      expect(leadership.signal.aborted).toBe(true);
      return 'stepped down';
    }, { id: 'w', rejoin: true });
    expect(result).toBe('stepped down');
  });
});

describe('runWhileLeader: leadership is lost', () => {
  it('without rejoin: the task sees the abort, and the LeadershipLostError is surfaced once it settled', async () => {
    const { connection, election } = open();
    const { task, state } = controllable('resolve');
    const running = runWhileLeader(election, task, { id: 'w' });
    await flush();
    connection.expire();
    const error = await running.catch((e: unknown) => e);
    expect(error).toBe(state.leaderships[0]?.signal.reason);
    expect(error).toMatchObject({ name: 'LeadershipLostError', reason: 'session-expired' });
    expect(state.started).toBe(1);
  });

  it("the task's own error on the way out becomes the cause; rethrowing the reason keeps it as is", async () => {
    const a = open();
    const own = controllable('reject-own');
    const first = runWhileLeader(a.election, own.task, { id: 'w' });
    await flush();
    a.connection.expire();
    const error = await first.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'LeadershipLostError', reason: 'session-expired', cause: expect.objectContaining({ message: 'the task broke while stopping' }) });

    const rethrow = controllable('reject-reason');
    const second = runWhileLeader(a.election, rethrow.task, { id: 'w' });
    await flush();
    a.connection.expire();
    const reason = await second.catch((e: unknown) => e);
    expect(reason).toBe(rethrow.state.leaderships[0]?.signal.reason);
  });

  it('with rejoin: campaigns again after the task settled; never two tasks at once', async () => {
    const { connection, election } = open();
    const { task, state } = controllable('resolve');
    let last: (value: string) => void = () => {};
    const running = runWhileLeader(election, (leadership) => {
      if (state.started < 2) return task(leadership);
      state.started++;
      return new Promise<string>((resolve) => (last = resolve));
    }, { id: 'w', rejoin: true });
    await flush();
    connection.expire();
    await flush();
    connection.expire();
    await flush();
    expect(state.started).toBe(3);
    expect(state.maxRunning).toBe(1);
    const tokens = state.leaderships.map((l) => l.token);
    expect(tokens[1]! > tokens[0]!).toBe(true);
    last('third time');
    await expect(running).resolves.toBe('third time');
  });

  it('with rejoin, a loss the owner caused (election closed) is not retried', async () => {
    const { election } = open();
    const { task } = controllable('resolve');
    const running = runWhileLeader(election, task, { id: 'w', rejoin: true });
    await flush();
    await election.close();
    await expect(running).rejects.toMatchObject({ name: 'LeadershipLostError', reason: 'closed' });
  });

  it('a task that does not stop within settleTimeoutMs: TimeoutError, and no second task even with rejoin', async () => {
    const { connection, election } = open();
    const { task, state } = controllable('ignore');
    const running = runWhileLeader(election, task, { id: 'w', rejoin: true, settleTimeoutMs: 30 });
    await flush();
    connection.expire();
    const error = await running.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError', code: 'ELECT_TIMEOUT', retryable: false, cause: expect.objectContaining({ reason: 'session-expired' }) });
    expect((error as Error).message).toMatch(/did not stop within 30 ms after leadership was lost; no other task was started/);
    expect(isCampaignTimeout(error)).toBe(false);
    await flush();
    expect(state.started).toBe(1);
  });

  it('a task that stops early on signalAhead() and rethrows its reason is a loss: resign, then rejoin', async () => {
    const clock = new ManualClock(0);
    const { connection, election } = open(clock);
    const stoppedAt: number[] = [];
    let deadline = 0;
    let terms = 0;
    const running = runWhileLeader(election, (leadership) => {
      if (++terms === 2) return 'second term';
      deadline = leadership.deadline;
      const stop = leadership.signalAhead(200);
      return new Promise<string>((_, reject) =>
        stop.addEventListener('abort', () => {
          stoppedAt.push(clock.now());
          reject(stop.reason);
        }),
      );
    }, { id: 'w', rejoin: true });
    await flush();
    connection.suspend();
    clock.advance(700); // 200 ms before the deadline at 900
    expect(stoppedAt).toEqual([deadline - 200]);
    await flush();
    connection.heal(); // still leader: the stopped task is a loss all the same
    await flush();
    await expect(running).resolves.toBe('second term');
    expect(terms).toBe(2);
  });

  it('a partition: the task is stopped at the loss deadline, and with rejoin a new term starts once the network heals', async () => {
    const clock = new ManualClock(0);
    const { connection, election } = open(clock);
    const { task, state } = controllable('resolve');
    let second: (value: string) => void = () => {};
    const running = runWhileLeader(election, (l) => (state.started < 1 ? task(l) : new Promise<string>((resolve) => (second = resolve))), {
      id: 'w',
      rejoin: true,
    });
    await flush();
    const first = state.leaderships[0] as Leadership;
    connection.suspend();
    clock.advance(899);
    expect(first.isLeader).toBe(true);
    clock.advance(1); // lastContact 0 + 1000 − 100
    expect(first.signal.reason).toMatchObject({ reason: 'deadline' });
    await flush();
    expect(state.running).toBe(0);
    clock.advance(5000); // still cut off: no new term can start
    await flush();
    connection.heal();
    await flush();
    second('after the partition');
    await expect(running).resolves.toBe('after the partition');
    expect(state.maxRunning).toBe(1);
  });

  it('without rejoin, that early stop rejects with the deadline reason', async () => {
    const { election } = open();
    const declared = new LeadershipLostError('deadline', 'stopped ahead of the deadline');
    await expect(runWhileLeader(election, async () => Promise.reject(declared), { id: 'w' })).rejects.toBe(declared);
    expect(server.keys('jobs')).toEqual([]);
  });
});

describe('runWhileLeader: the caller aborts', () => {
  it('while campaigning: AbortError, and our entry is gone', async () => {
    const holder = open();
    const held = await holder.election.campaign({ id: 'holder' });
    const { election } = open();
    const controller = new AbortController();
    let started = false;
    const running = runWhileLeader(election, () => void (started = true), { id: 'w', signal: controller.signal });
    await flush();
    expect(server.keys('jobs')).toHaveLength(2);
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError', code: 'ELECT_ABORTED' });
    expect(server.keys('jobs')).toEqual([held.key]);
    expect(started).toBe(false);
  });

  it('with an already-aborted signal: AbortError, nothing written', async () => {
    const { election } = open();
    await expect(runWhileLeader(election, () => 1, { id: 'w', signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.keys('jobs')).toEqual([]);
  });

  it('while the task runs: the task is stopped first, our entry removed only after it settled, then AbortError', async () => {
    const { election } = open();
    const controller = new AbortController();
    const atSettle: string[][] = [];
    let leadership: Leadership | undefined;
    const running = runWhileLeader(election, (l) => {
      leadership = l;
      // Takes a while to stop, like a child process would.
      return new Promise<void>((resolve) =>
        l.signal.addEventListener('abort', () => setImmediate(() => resolve(void atSettle.push(server.keys('jobs'))))),
      );
    }, { id: 'w', signal: controller.signal });
    await flush();
    controller.abort(new Error('shutting down'));
    await expect(running).rejects.toMatchObject({ name: 'AbortError', cause: expect.objectContaining({ message: 'shutting down' }) });
    expect(atSettle).toEqual([[leadership?.key]]); // still ours until the task had stopped
    expect(leadership?.signal.reason).toMatchObject({ name: 'LeadershipLostError', reason: 'resigned' });
    expect(server.keys('jobs')).toEqual([]);
  });

  it('while a task that will not stop runs: TimeoutError, leadership still held until the election closes', async () => {
    const { election } = open();
    const { task } = controllable('ignore');
    const controller = new AbortController();
    const running = runWhileLeader(election, task, { id: 'w', signal: controller.signal, settleTimeoutMs: 20 });
    await flush();
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/after runWhileLeader was aborted/) });
    expect(server.keys('jobs')).toHaveLength(1);
    await election.close();
    expect(server.keys('jobs')).toEqual([]);
  });
});

describe('runWhileLeader: pacing the campaigns', () => {
  /** Records what runWhileLeader logs: event names, in order. */
  function recorder(): { events: string[]; logger: { debug(f: object): void; info(f: object): void; warn(f: object): void; error(f: object): void } } {
    const events: string[] = [];
    const push = (fields: object): void => void events.push(String((fields as { event?: unknown }).event));
    return { events, logger: { debug: push, info: push, warn: push, error: push } };
  }

  it('rejoinDelayMs: the next campaign waits that long on the clock after a loss, and says why', async () => {
    const clock = new ManualClock(0);
    const { connection, election } = open(clock);
    const { task, state } = controllable('resolve');
    const { events, logger } = recorder();
    const running = runWhileLeader(election, (l) => (state.started < 1 ? task(l) : 'second term'), { id: 'w', rejoin: true, rejoinDelayMs: 500, clock, logger });
    await flush();
    connection.expire();
    await flush();
    expect(events).toEqual(['campaigning', 'rejoining']);
    expect(server.keys('jobs')).toEqual([]); // nothing queued during the pause
    clock.advance(499);
    await flush();
    expect(server.keys('jobs')).toEqual([]);
    clock.advance(1);
    await expect(running).resolves.toBe('second term');
    expect(events).toEqual(['campaigning', 'rejoining', 'campaigning']);
  });

  it('an abort during the pause rejects with AbortError, and no campaign follows', async () => {
    const clock = new ManualClock(0);
    const { connection, election } = open(clock);
    const { task, state } = controllable('resolve');
    const controller = new AbortController();
    const running = runWhileLeader(election, task, { id: 'w', rejoin: true, rejoinDelayMs: 500, clock, signal: controller.signal });
    await flush();
    connection.expire();
    await flush();
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    clock.advance(1_000);
    await flush();
    expect(state.started).toBe(1);
    expect(server.keys('jobs')).toEqual([]);
  });

  it('campaignTimeoutMs: a campaign not won in time rejects with TimeoutError and leaves nothing', async () => {
    const clock = new ManualClock(0);
    const { election } = open(clock);
    const holder = await election.campaign({ id: 'holder' });
    let started = 0;
    const running = runWhileLeader(election, () => void started++, { id: 'w', campaignTimeoutMs: 300, clock });
    await flush();
    expect(server.keys('jobs')).toHaveLength(2);
    clock.advance(300);
    const error = await running.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError', retryable: false, message: expect.stringMatching(/not elected within 300 ms/) });
    expect(isCampaignTimeout(error)).toBe(true);
    expect(server.keys('jobs')).toEqual([holder.key]);
    expect(started).toBe(0);
  });

  it('campaignTimeoutMs applies to each campaign on its own: a rejoin gets the whole time again', async () => {
    const clock = new ManualClock(0);
    const { connection, election } = open(clock);
    const { task, state } = controllable('resolve');
    const running = runWhileLeader(election, task, { id: 'w', rejoin: true, campaignTimeoutMs: 300, clock });
    await flush();
    clock.advance(250); // the first term runs past the first campaign's limit: no matter
    await flush();
    const other = server.connect({ sessionTimeoutMs: 1000 }).election('jobs');
    const queued = other.campaign({ id: 'other' });
    await flush();
    connection.expire(); // our term ends; other leads; our rejoin queues behind it
    const holder = await queued;
    await flush();
    expect(state.started).toBe(1);
    clock.advance(299);
    await flush();
    expect(server.keys('jobs')).toHaveLength(2);
    clock.advance(1);
    await expect(running).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(server.keys('jobs')).toEqual([holder.key]);
  });
  it('with rejoin and campaignTimeoutMs, the campaigns leave nothing on the caller\'s signal: a long-running service does not grow', async () => {
    const { connection, election } = open();
    const { task, state } = controllable('resolve');
    const shutdown = new AbortController();
    const running = runWhileLeader(election, task, { id: 'w', rejoin: true, campaignTimeoutMs: 60_000, signal: shutdown.signal });
    running.catch(() => {}); // awaited below; a failed expectation must not leave it unhandled
    for (let term = 1; term <= 20; term++) {
      await flush();
      expect(state.started).toBe(term);
      connection.expire(); // the term ends; the rejoin campaigns again
    }
    await flush();
    // The one live term's wait on the signal is all it holds.
    expect(signalHolds(shutdown.signal)).toEqual({ listeners: 1, dependants: 0 });
    shutdown.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(signalHolds(shutdown.signal)).toEqual({ listeners: 0, dependants: 0 });
  });
});

describe('runWhileLeader: validation', () => {
  it('rejects bad arguments with InvalidOptionError naming them, before anything is written', async () => {
    const { election } = open();
    const cases: [unknown, unknown, unknown, string][] = [
      [election, () => 1, { id: '' }, 'id'],
      [election, () => 1, { id: 'w', value: 7 }, 'value'],
      [election, () => 1, { id: 'w', rejoin: 'yes' }, 'rejoin'],
      [election, () => 1, { id: 'w', signal: 'stop' }, 'signal'],
      [election, () => 1, { id: 'w', settleTimeoutMs: -1 }, 'settleTimeoutMs'],
      [election, () => 1, { id: 'w', rejoinDelayMs: -1 }, 'rejoinDelayMs'],
      [election, () => 1, { id: 'w', campaignTimeoutMs: 0 }, 'campaignTimeoutMs'],
      [election, () => 1, { id: 'w', logger: console.log }, 'logger'],
      [election, () => 1, { id: 'w', settleTimeout: 5 }, 'settleTimeout'],
      [election, () => 1, undefined, 'options'],
      [election, 'not a function', { id: 'w' }, 'task'],
      [{}, () => 1, { id: 'w' }, 'election'],
    ];
    for (const [e, task, options, option] of cases) {
      const attempt = runWhileLeader(e as Election, task as () => number, options as { id: string });
      await expect(attempt).rejects.toMatchObject({ name: 'InvalidOptionError', option });
    }
    expect(server.keys('jobs')).toEqual([]);
  });
});

describe('runWhileLeader: priority elections', () => {
  it('a preempted task is stopped before the preemptor leads; with rejoin the loser campaigns again and leads after it', async () => {
    const low = open();
    const high = open();
    const { task, state } = controllable('resolve');
    let preemptorStarted = -1;
    const stopAll = new AbortController();
    const running = runWhileLeader(low.election, task, { id: 'low', priority: 1, rejoin: true, signal: stopAll.signal });
    while (state.started === 0) await flush();
    const first = state.leaderships[0] as Leadership;
    const preemptor = high.election.campaign({ id: 'high', priority: 5, preempt: true }).then((l) => {
      // The preempted task had already stopped: it is no longer running.
      preemptorStarted = state.running;
      return l;
    });
    const leadership = await preemptor;
    expect(preemptorStarted).toBe(0);
    expect((first.signal.reason as LeadershipLostError).reason).toBe('preempted');
    expect(leadership.token > first.token).toBe(true);
    // Rejoined behind the preemptor; leads again once it resigns.
    await leadership.resign();
    while (state.started < 2) await flush();
    stopAll.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('a task that hands over itself ends like one that resigns: runWhileLeader resolves, even with rejoin', async () => {
    const { election } = open();
    const other = open();
    let next: Promise<Leadership> | undefined;
    const result = runWhileLeader(
      election,
      async (leadership) => {
        next = other.election.campaign({ id: 'next', priority: 1 });
        while ((await election.candidates()).length < 2) await flush();
        await leadership.handover({ to: 'next' });
        return 'handed over';
      },
      { id: 'first', priority: 5, rejoin: true },
    );
    await expect(result).resolves.toBe('handed over');
    await expect(next).resolves.toMatchObject({ id: 'next' });
  });

  it('rejects bad priority options before campaigning', async () => {
    const { election } = open();
    await expect(runWhileLeader(election, () => 1, { id: 'w', preempt: true })).rejects.toMatchObject({ option: 'preempt' });
    await expect(runWhileLeader(election, () => 1, { id: 'w', priority: -2 })).rejects.toMatchObject({ option: 'priority' });
    expect(server.keys('jobs')).toEqual([]);
  });
});
