// The metrics follow leadership as it moves: two candidates on the in-memory
// backend, stepped with a ManualClock, and the registry read after each step.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Leadership } from '@elect/core';
import { ManualClock, MemoryServer } from '@elect/core/testing';
import { ElectMetrics } from '@elect/metrics';
import { Registry } from 'prom-client';

const T = 1000; // session timeout; margin 100 ms, heartbeat every 333 ms
let server: MemoryServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Lets queued promise callbacks and server notifications run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One sample's value, or undefined if the registry has no such series. */
async function sample(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  const want = Object.entries(labels);
  const found = values.find((v) => (v.metricName ?? name) === name && want.every(([k, val]) => String(v.labels[k]) === val));
  return found?.value;
}

/** The count of a histogram's observations with these labels. */
async function count(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  const want = Object.entries(labels);
  return values.find((v) => v.metricName === `${name}_count` && want.every(([k, val]) => String(v.labels[k]) === val))?.value ?? 0;
}

function setUp() {
  const clock = new ManualClock(0);
  server = new MemoryServer({ clock });
  const registry = new Registry();
  const metrics = new ElectMetrics({ registry, clock });
  const connect = (name: string) => server!.connect({ sessionTimeoutMs: T, telemetry: metrics.telemetry(name) });
  return { clock, registry, metrics, connect };
}

describe('ElectMetrics', () => {
  it('is-leader, transitions, token, campaign time and the deadline follow leadership from one candidate to the next', async () => {
    const { clock, registry, metrics, connect } = setUp();
    const a = connect('a');
    const b = connect('b');
    const ea = metrics.election(a.election('jobs'));
    const eb = metrics.election(b.election('jobs'));
    const la = await ea.campaign({ id: 'a' });
    let lb: Leadership | undefined;
    void eb.campaign({ id: 'b' }).then((l) => (lb = l));
    await flush();

    expect(await sample(registry, 'elect_is_leader', { election: 'jobs', id: 'a' })).toBe(1);
    expect(await sample(registry, 'elect_leadership_transitions_total', { id: 'a', to: 'leader', reason: 'elected' })).toBe(1);
    expect(await sample(registry, 'elect_fencing_token', { id: 'a' })).toBe(Number(la.token));
    expect(await count(registry, 'elect_campaign_duration_seconds', { election: 'jobs', outcome: 'elected' })).toBe(1);
    expect(await sample(registry, 'elect_session_state', { connection: 'a', state: 'live' })).toBe(1);
    expect(await sample(registry, 'elect_loss_deadline_remaining_seconds', { id: 'a' })).toBeCloseTo((T - 100) / 1000, 6);

    clock.advance(333); // a heartbeat answered: the deadline moves, a round trip is seen
    expect(await count(registry, 'elect_heartbeat_round_trip_seconds', { connection: 'a' })).toBeGreaterThan(0);
    expect(await sample(registry, 'elect_loss_deadline_remaining_seconds', { id: 'a' })).toBeCloseTo((T - 100) / 1000, 6);

    a.suspend();
    clock.advance(333); // unanswered: suspended, and the time left shrinks
    await flush();
    expect(await sample(registry, 'elect_session_state', { connection: 'a', state: 'suspended' })).toBe(1);
    expect(await sample(registry, 'elect_session_state', { connection: 'a', state: 'live' })).toBe(0);
    expect(await sample(registry, 'elect_loss_deadline_remaining_seconds', { id: 'a' })).toBeCloseTo((333 + T - 100 - 666) / 1000, 6);

    clock.advanceTo(333 + T - 100); // a's loss deadline
    await flush();
    expect(la.isLeader).toBe(false);
    expect(await sample(registry, 'elect_is_leader', { id: 'a' })).toBe(0);
    expect(await sample(registry, 'elect_leadership_transitions_total', { id: 'a', to: 'lost', reason: 'deadline' })).toBe(1);
    expect(await sample(registry, 'elect_loss_deadline_remaining_seconds', { id: 'a' })).toBeUndefined();
    expect(await sample(registry, 'elect_session_state', { connection: 'a', state: 'ended' })).toBe(1);

    clock.advanceTo(333 + T); // the server expires a's session: b leads
    await flush();
    expect(lb?.isLeader).toBe(true);
    expect(await sample(registry, 'elect_is_leader', { id: 'b' })).toBe(1);
    expect(await sample(registry, 'elect_fencing_token', { id: 'b' })).toBe(Number(lb!.token));
    expect(Number(lb!.token)).toBeGreaterThan(Number(la.token));
    expect(await count(registry, 'elect_campaign_duration_seconds', { election: 'jobs', outcome: 'elected' })).toBe(2);

    await lb!.resign();
    expect(await sample(registry, 'elect_is_leader', { id: 'b' })).toBe(0);
    expect(await sample(registry, 'elect_leadership_transitions_total', { id: 'b', to: 'lost', reason: 'resigned' })).toBe(1);
  });

  it('a campaign that ends without leading counts as failed; a refused option is not a campaign', async () => {
    const { registry, metrics, connect } = setUp();
    const a = connect('a');
    const b = connect('b');
    await metrics.election(a.election('jobs')).campaign({ id: 'a' });
    const eb = metrics.election(b.election('jobs'));
    const stop = new AbortController();
    const waiting = eb.campaign({ id: 'b', signal: stop.signal });
    await flush();
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ELECT_ABORTED' });
    await expect(eb.campaign({ id: '' })).rejects.toMatchObject({ code: 'ELECT_INVALID_OPTION' });
    expect(await count(registry, 'elect_campaign_duration_seconds', { election: 'jobs', outcome: 'failed' })).toBe(1);
    expect(await sample(registry, 'elect_is_leader', { id: 'b' })).toBeUndefined();
  });

  it('the measured election is the election: reads, events and close go straight through', async () => {
    const { metrics, connect } = setUp();
    const inner = connect('a').election('jobs');
    const election = metrics.election(inner);
    expect(election.name).toBe('jobs');
    const leadership = await election.campaign({ id: 'a' });
    expect(await election.leader()).toMatchObject({ id: 'a', token: leadership.token });
    expect((await inner.candidates()).map((c) => c.id)).toEqual(['a']);
    await election.close();
    expect(leadership.isLeader).toBe(false);
  });

  it('refuses a bad prefix, naming it', () => {
    expect(() => new ElectMetrics({ registry: new Registry(), prefix: '9x' })).toThrow(/prefix/);
  });
});
