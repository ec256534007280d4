// The in-memory backend's own behaviour, stepped with a ManualClock: the
// deadline arithmetic, suspension and healing, abandoned sessions, faults,
// closing, validation. The contract itself is covered by the conformance run.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ElectionEvent, Leadership } from '@elect/core';
import { ManualClock, MemoryServer } from '@elect/core/testing';

const T = 1000; // session timeout; margin 100 ms, heartbeat every 333 ms
let server: MemoryServer;
let clock: ManualClock;

function start(): void {
  clock = new ManualClock(0);
  server = new MemoryServer({ clock });
}

/** Lets queued promise callbacks and server notifications run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function lead(name = 'e', id = 'a') {
  const connection = server.connect({ sessionTimeoutMs: T });
  const election = connection.election(name);
  const leadership = await election.campaign({ id });
  return { connection, election, leadership };
}

function record(iterable: AsyncIterable<ElectionEvent>): ElectionEvent[] {
  const events: ElectionEvent[] = [];
  void (async () => {
    for await (const event of iterable) events.push(event);
  })().catch(() => {}); // ends with ClosedError when the server closes after each test
  return events;
}

afterEach(async () => {
  await server.close();
});

describe('memory backend: loss deadline', () => {
  it('a suspended leader loses exactly at lastContact + timeout − margin; the server gives it away only at lastHeard + timeout', async () => {
    start();
    const a = await lead();
    const b = server.connect({ sessionTimeoutMs: T });
    let bLeads: Leadership | undefined;
    void b.election('e').campaign({ id: 'b' }).then((l) => (bLeads = l));
    const events = record(a.election.events());
    await flush();

    clock.advance(333); // heartbeat: last contact now 333
    a.connection.suspend();
    expect(a.leadership.deadline).toBe(333 + T - 100);
    clock.advance(333); // 666: unanswered heartbeat
    await flush();
    expect(events).toEqual([{ type: 'suspended', deadline: 1233 }]);
    await expect(a.election.leader()).rejects.toMatchObject({ code: 'ELECT_CONNECTION', retryable: true });

    clock.advanceTo(1232);
    expect(a.leadership.isLeader).toBe(true);
    clock.advanceTo(1233);
    expect(a.leadership.isLeader).toBe(false);
    expect(a.leadership.signal.reason).toMatchObject({ reason: 'deadline' });
    expect(server.isAlive(a.connection.sessionId ?? 1)).toBe(true); // the client gave up; the server still holds it
    expect(server.sessionIds()).toHaveLength(2);

    clock.advanceTo(1332);
    await flush();
    expect(bLeads).toBeUndefined();
    clock.advanceTo(1333);
    await flush();
    expect(bLeads?.token).toBeGreaterThan(a.leadership.token);
    expect(events.map((e) => e.type)).toEqual(['suspended', 'lost']);
  });

  it('a heal before the deadline costs nothing: resumed, same session, deadline pushed out', async () => {
    start();
    const a = await lead();
    const events = record(a.election.events());
    const session = a.connection.sessionId;
    a.connection.suspend();
    clock.advance(400); // one unanswered heartbeat
    await flush();
    a.connection.heal();
    await flush();
    expect(events.map((e) => e.type)).toEqual(['suspended', 'resumed']);
    expect(a.leadership.deadline).toBe(400 + T - 100);
    clock.advance(5 * T);
    expect(a.leadership.isLeader).toBe(true);
    expect(a.connection.sessionId).toBe(session);
  });

  it('healing after the client gave up but before the server expired: the abandoned session is closed at once, a new one opened', async () => {
    start();
    const a = await lead();
    const b = server.connect({ sessionTimeoutMs: T });
    let bLeads: Leadership | undefined;
    void b.election('e').campaign({ id: 'b' }).then((l) => (bLeads = l));
    await flush();
    const old = a.connection.sessionId as number;
    a.connection.suspend();
    clock.advance(950); // client deadline 900 passed, server expiry at 1000 not yet
    expect(a.leadership.isLeader).toBe(false);
    expect(server.isAlive(old)).toBe(true);
    a.connection.heal();
    await flush();
    expect(server.isAlive(old)).toBe(false);
    expect(a.connection.sessionId).not.toBe(old);
    expect(bLeads?.id).toBe('b');
    await expect(a.leadership.resign()).resolves.toBeUndefined(); // nothing left to clean
  });

  it('a campaign waits through a suspension and re-enters with a fresh entry after its session expired', async () => {
    start();
    const a = await lead();
    const b = server.connect({ sessionTimeoutMs: T });
    let bLeads: Leadership | undefined;
    void b.election('e').campaign({ id: 'b' }).then((l) => (bLeads = l));
    await flush();
    const staleKey = server.candidates('e')[1]?.key;
    b.suspend();
    clock.advance(2 * T); // b's session expires on the server meanwhile
    expect(server.keys('e')).toEqual([a.leadership.key]);
    await a.leadership.resign();
    expect(server.leader('e')).toBeUndefined();
    b.heal();
    await flush();
    expect(bLeads?.key).toBeDefined();
    expect(bLeads?.key).not.toBe(staleKey);
    expect(server.leader('e')?.key).toBe(bLeads?.key);
  });
});

describe('memory backend: faults and events', () => {
  it('an operator delete ends leadership with reason "deleted"; the next candidate leads', async () => {
    start();
    const a = await lead();
    const b = server.connect({ sessionTimeoutMs: T }).election('e');
    const waiting = b.campaign({ id: 'b' });
    await flush();
    expect(server.deleteKey(a.leadership.key)).toBe(true);
    await flush();
    expect(a.leadership.signal.reason).toMatchObject({ reason: 'deleted' });
    expect((await waiting).id).toBe('b');
    expect(server.deleteKey('nope')).toBe(false);
  });

  it('expireSession: the leader hears of it at once (reason "session-expired") and gets a new session', async () => {
    start();
    const a = await lead();
    const old = a.connection.sessionId as number;
    expect(server.expireSession(old)).toBe(true);
    await flush();
    expect(a.leadership.signal.reason).toMatchObject({ reason: 'session-expired' });
    expect(a.connection.sessionId).not.toBe(old);
    await expect(a.leadership.proclaim('late')).rejects.toMatchObject({ code: 'ELECT_NOT_LEADER' });
    expect(server.expireSession(old)).toBe(false);
  });

  it("events(): 'leader' when someone else leads or nobody does; our own election is 'elected'", async () => {
    start();
    const mine = server.connect({ sessionTimeoutMs: T }).election('e');
    const events = record(mine.events());
    const other = await lead();
    await other.leadership.resign();
    const own = await mine.campaign({ id: 'me' });
    await own.resign();
    await flush();
    expect(events).toEqual([
      { type: 'leader', leader: { id: 'a', value: 'a', token: other.leadership.token, key: other.leadership.key } },
      { type: 'leader', leader: undefined },
      { type: 'elected', id: 'me', token: own.token },
      expect.objectContaining({ type: 'lost', id: 'me', reason: 'resigned' }),
      { type: 'leader', leader: undefined },
    ]);
  });

  it('proclaim validates the value and is guarded by ownership', async () => {
    start();
    const a = await lead();
    await expect(a.leadership.proclaim(42 as unknown as string)).rejects.toMatchObject({ option: 'value' });
    await a.leadership.proclaim('v2');
    expect(server.leader('e')?.value).toBe('v2');
  });
});

describe('memory backend: closing', () => {
  it('closing the connection closes its elections: leadership ends ("closed"), campaigns reject, observers and events end', async () => {
    start();
    const a = await lead();
    const waiting = a.connection.election('e').campaign({ id: 'second' });
    const observed = (async () => {
      for await (const _ of a.election.observe()) void _;
    })();
    const events = (async () => {
      for await (const _ of a.election.events()) void _;
    })();
    await flush();
    await a.connection.close();
    expect(a.leadership.signal.reason).toMatchObject({ reason: 'closed' });
    await expect(waiting).rejects.toMatchObject({ name: 'ClosedError' });
    await expect(observed).resolves.toBeUndefined();
    await expect(events).resolves.toBeUndefined();
    expect(server.keys('e')).toEqual([]);
    await expect(a.election.leader()).rejects.toMatchObject({ name: 'ClosedError' });
    expect(() => a.connection.election('e')).toThrow(expect.objectContaining({ name: 'ClosedError' }));
    await a.election.close();
  });

  it('closing an election whose leader is handing over, to a candidate that cannot take it (suspended), does not wait on the clock', async () => {
    start();
    const a = server.connect({ sessionTimeoutMs: T });
    const election = a.election('p');
    const leadership = await election.campaign({ id: 'a', priority: 1 });
    const b = server.connect({ sessionTimeoutMs: T });
    void b.election('p').campaign({ id: 'b', priority: 1 }).catch(() => {});
    await flush();
    expect(server.keys('p').length).toBeGreaterThanOrEqual(2);
    b.suspend();
    const handing = leadership.handover({ to: 'b' }).catch(() => {});
    await flush();
    expect(leadership.signal.aborted).toBe(true); // yielded; now waiting for b to take it, at most a session timeout
    let closed = false;
    void election.close().then(() => (closed = true));
    for (let i = 0; i < 10 && !closed; i++) await flush();
    expect(closed).toBe(true);
    await handing;
  });

  it('closing a suspended connection cannot tell the server: its session lingers until it expires there', async () => {
    start();
    const a = await lead();
    a.connection.suspend();
    await a.connection.close();
    expect(server.keys('e')).toEqual([a.leadership.key]);
    clock.advance(T);
    expect(server.keys('e')).toEqual([]);
  });
});

describe('memory backend: validation', () => {
  it('rejects bad connection options, server options and election names, naming them', () => {
    start();
    const bad: [object, string][] = [
      [{ sessionTimeoutMs: 0 }, 'sessionTimeoutMs'],
      [{ sessionTimeoutMs: 'long' }, 'sessionTimeoutMs'],
      [{ sessionTimeoutMs: 1000, safetyMarginMs: 1000 }, 'safetyMarginMs'],
      [{ sessionTimeoutMs: 1000, heartbeatIntervalMs: 950 }, 'heartbeatIntervalMs'],
      [{ sessionTimeout: 1000 }, 'sessionTimeout'],
      // The same validators as every backend's: a logger, a clock or telemetry of the wrong shape fails here, not at first use.
      [{ logger: {} }, 'logger'],
      [{ logger: console.log }, 'logger'],
      [{ clock: Date }, 'clock'],
      [{ telemetry: 5 }, 'telemetry'],
    ];
    for (const [options, option] of bad) {
      expect(() => server.connect(options)).toThrow(expect.objectContaining({ code: 'ELECT_INVALID_OPTION', option }));
    }
    expect(() => new MemoryServer({ clok: clock } as object)).toThrow(expect.objectContaining({ option: 'clok' }));
    const connection = server.connect();
    for (const name of ['', 'a\nb', 'x'.repeat(1025)]) {
      expect(() => connection.election(name)).toThrow(expect.objectContaining({ option: 'name' }));
    }
    expect(server.sessionIds()).toEqual([connection.sessionId]);
  });
});
