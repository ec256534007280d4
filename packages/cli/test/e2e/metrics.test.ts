/**
 * `elect run --metrics`: scraped over real HTTP while leadership moves from
 * one `elect` to another on a real server.
 */
import { describe, expect, it } from '@jest/globals';
import { scaled } from '@elect/test';
import { Elect, electOnce, waitQueued, workerScript } from '../support/elect.js';
import { backends, ttlMs, useScratch, useServer } from '../support/server.js';

/** One Prometheus text exposition, as `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include every one of `labels`. */
function value(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const [key, v] of samples) {
    const [metric, rest = ''] = key.split('{');
    if (metric !== name) continue;
    if (Object.entries(labels).every(([k, want]) => rest.includes(`${k}="${want}"`))) return v;
  }
  return undefined;
}

/** Scrapes until `ready` holds (a heartbeat must come first, say), within `ms`. */
async function scrapeUntil(url: string, ready: (s: Map<string, number>) => boolean, what: string, ms: number): Promise<Map<string, number>> {
  const until = Date.now() + ms;
  let last = new Map<string, number>();
  while (Date.now() < until) {
    last = await scrape(url);
    if (ready(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within ${ms} ms; last scrape:\n${[...last].map(([k, v]) => `${k} ${v}`).join('\n')}`);
}

async function metricsUrl(elect: Elect): Promise<string> {
  return (await elect.waitLog((r) => r.event === 'metrics', `${elect.name} to serve metrics`)).url as string;
}

describe.each(backends)('%s: elect run --metrics', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('is-leader, token, transitions, campaign time, session state and health follow leadership from a to b', async () => {
    const s = scratch();
    const election = server.election('metrics');
    const a = new Elect('a', [...server.args(election, '--id', 'a', '--metrics', '127.0.0.1:0'), '--', workerScript], s.env);
    const aUrl = await metricsUrl(a);
    const tokenA = Number((await a.waitLine(/^start a /, 'a to start its command')).split(' ')[2]);
    // A heartbeat / keepalive is answered within one interval (at most a third of the TTL).
    const seenA = await scrapeUntil(aUrl, (m) => (value(m, 'elect_heartbeat_round_trip_seconds_count') ?? 0) > 0, 'a heartbeat round trip', scaled(ttlMs));
    expect(value(seenA, 'elect_is_leader', { id: 'a' })).toBe(1);
    expect(value(seenA, 'elect_fencing_token', { id: 'a' })).toBe(tokenA);
    expect(value(seenA, 'elect_leadership_transitions_total', { id: 'a', to: 'leader', reason: 'elected' })).toBe(1);
    expect(value(seenA, 'elect_campaign_duration_seconds_count', { outcome: 'elected' })).toBe(1);
    expect(value(seenA, 'elect_session_state', { connection: backend, state: 'live' })).toBe(1);
    const left = value(seenA, 'elect_loss_deadline_remaining_seconds', { id: 'a' }) as number;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(ttlMs / 1000);
    expect(value(seenA, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect((await fetch(aUrl.replace('/metrics', '/healthz'))).status).toBe(200);
    expect((await fetch(aUrl.replace('/metrics', '/readyz'))).status).toBe(200);
    expect((await fetch(aUrl.replace('/metrics', '/nope'))).status).toBe(404);

    const b = new Elect('b', [...server.args(election, '--id', 'b', '--metrics', '127.0.0.1:0'), '--', workerScript], s.env);
    const bUrl = await metricsUrl(b);
    await waitQueued(server.args(election), ['a', 'b']);
    const waiting = await scrape(bUrl);
    expect(value(waiting, 'elect_is_leader', { id: 'b' })).toBeUndefined();
    expect(value(waiting, 'elect_session_state', { connection: backend, state: 'live' })).toBe(1);
    expect((await fetch(bUrl.replace('/metrics', '/readyz'))).status).toBe(200);

    a.kill('SIGTERM');
    expect((await a.waitExit()).code).toBe(143);
    const tokenB = Number((await b.waitLine(/^start b /, 'b to take over')).split(' ')[2]);
    const seenB = await scrape(bUrl);
    expect(value(seenB, 'elect_is_leader', { id: 'b' })).toBe(1);
    expect(value(seenB, 'elect_fencing_token', { id: 'b' })).toBe(tokenB);
    expect(tokenB).toBeGreaterThan(tokenA);
    expect(value(seenB, 'elect_leadership_transitions_total', { id: 'b', to: 'leader', reason: 'elected' })).toBe(1);
    expect(value(seenB, 'elect_campaign_duration_seconds_count', { outcome: 'elected' })).toBe(1);
    expect(s.markers().filter((m) => m.startsWith('OVERLAP'))).toEqual([]);

    // The port is taken: a usage error naming the flag, before anything is sent.
    const taken = await electOnce([...server.args(election, '--id', 'c', '--metrics', new URL(bUrl).host), '--', workerScript], s.env);
    expect(taken.exit.code).toBe(64);
    expect(taken.stderr.join('\n')).toMatch(/--metrics 127\.0\.0\.1:\d+: cannot listen there \(EADDRINUSE\)/);
    await waitQueued(server.args(election), ['b']);
  });
});
