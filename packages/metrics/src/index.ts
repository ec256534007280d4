/**
 * `@elect/metrics`: an election's metrics on a prom-client registry.
 *
 *     const metrics = new ElectMetrics({ registry });
 *     const connection = await connectZooKeeper({ connectString, telemetry: metrics.telemetry() });
 *     const election = metrics.election(connection.election('billing'));
 *     await runWhileLeader(election, { id }, work);
 *
 * `telemetry()` is the connection's side (session state, heartbeat round
 * trip); `election()` returns the same election with its campaigns measured
 * (is-leader, transitions by reason, campaign duration, fencing token, time
 * left to the loss deadline). Nothing is read from the server for them: the
 * figures are what this process knows, at the moment it knows it.
 */
import type { Clock, Election, Leadership, LossReason, SessionStatus, SessionTelemetry } from '@elect/core';
import { InvalidOptionError, LeadershipLostError, systemClock } from '@elect/core';
import { withCampaign } from '@elect/core/backend';
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';

export interface ElectMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default `elect_`. */
  prefix?: string;
  /** The elections' clock (for the time left to the loss deadline). Default core's system clock. */
  clock?: Clock;
}

const sessionStates = ['live', 'suspended', 'ended'] as const;

/** Buckets in seconds, from a fast local handoff to a slow campaign behind a long-held leadership. */
const campaignBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const roundTripBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class ElectMetrics {
  private readonly clock: Clock;
  private readonly isLeader: Gauge<'election' | 'id'>;
  private readonly transitions: Counter<'election' | 'id' | 'to' | 'reason'>;
  private readonly campaignSeconds: Histogram<'election' | 'outcome'>;
  private readonly deadlineLeft: Gauge<'election' | 'id'>;
  private readonly token: Gauge<'election' | 'id'>;
  private readonly sessionState: Gauge<'connection' | 'state'>;
  private readonly roundTrip: Histogram<'connection'>;
  /** The leaderships held now, for the time left to their deadlines (read at each scrape). */
  private readonly held = new Map<Leadership, { election: string; id: string }>();

  constructor(options: ElectMetricsOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
    const registry = options.registry ?? globalRegistry;
    const prefix = options.prefix ?? 'elect_';
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) throw new InvalidOptionError('prefix', `must start a valid Prometheus metric name, got ${JSON.stringify(prefix)}`);
    this.clock = options.clock ?? systemClock;
    const registers = [registry];
    this.isLeader = new Gauge({
      name: `${prefix}is_leader`,
      help: 'Whether this candidate leads the election now (1) or not (0).',
      labelNames: ['election', 'id'],
      registers,
    });
    this.transitions = new Counter({
      name: `${prefix}leadership_transitions_total`,
      help: 'Leadership changes of this process: to="leader" (reason "elected"), to="lost" with the loss reason (resigned, closed, deadline, session-expired, deleted, …).',
      labelNames: ['election', 'id', 'to', 'reason'],
      registers,
    });
    this.campaignSeconds = new Histogram({
      name: `${prefix}campaign_duration_seconds`,
      help: 'From campaign() to its outcome: elected, or failed (aborted, closed, timed out, …).',
      labelNames: ['election', 'outcome'],
      buckets: campaignBuckets,
      registers,
    });
    const held = this.held;
    const clock = this.clock;
    this.deadlineLeft = new Gauge({
      name: `${prefix}loss_deadline_remaining_seconds`,
      help: 'Time left before the loss deadline of a held leadership: how long it is guaranteed if nothing more is heard from the server.',
      labelNames: ['election', 'id'],
      registers,
      collect() {
        this.reset();
        for (const [leadership, labels] of held) {
          if (leadership.isLeader) this.set(labels, Math.max(0, leadership.deadline - clock.now()) / 1000);
        }
      },
    });
    this.token = new Gauge({
      name: `${prefix}fencing_token`,
      help: 'The fencing token of the leadership this candidate holds (last held, once lost).',
      labelNames: ['election', 'id'],
      registers,
    });
    this.sessionState = new Gauge({
      name: `${prefix}session_state`,
      help: 'The connection session as judged on our clock: 1 for the state it is in (live, suspended, ended), 0 for the others.',
      labelNames: ['connection', 'state'],
      registers,
    });
    this.roundTrip = new Histogram({
      name: `${prefix}heartbeat_round_trip_seconds`,
      help: 'From sending a heartbeat (ZooKeeper) or keepalive (etcd) to its answer.',
      labelNames: ['connection'],
      buckets: roundTripBuckets,
      registers,
    });
  }

  /**
   * The connection's side: pass it as the connection's `telemetry` option.
   * `connection` labels its series (one per connection of the process).
   */
  telemetry(connection = 'default'): SessionTelemetry {
    return {
      sessionStatus: (status: SessionStatus) => {
        for (const state of sessionStates) this.sessionState.set({ connection, state }, state === status.kind ? 1 : 0);
      },
      roundTrip: (ms: number) => this.roundTrip.observe({ connection }, Math.max(0, ms) / 1000),
    };
  }

  /** `election`, with every campaign measured. Everything else is the election's own. */
  election(election: Election): Election {
    const name = election.name;
    return withCampaign(election, async (options, campaign) => {
      const started = this.clock.now();
      const seconds = (): number => Math.max(0, this.clock.now() - started) / 1000;
      let leadership: Leadership;
      try {
        leadership = await campaign(options);
      } catch (error) {
        // A refused option is the caller's mistake, not an outcome of a campaign.
        if (!(error instanceof InvalidOptionError)) this.campaignSeconds.observe({ election: name, outcome: 'failed' }, seconds());
        throw error;
      }
      this.campaignSeconds.observe({ election: name, outcome: 'elected' }, seconds());
      this.track(name, leadership);
      return leadership;
    });
  }

  private track(election: string, leadership: Leadership): void {
    const labels = { election, id: leadership.id };
    this.transitions.inc({ ...labels, to: 'leader', reason: 'elected' });
    this.isLeader.set(labels, 1);
    this.token.set(labels, Number(leadership.token));
    this.held.set(leadership, labels);
    const lost = (): void => {
      this.held.delete(leadership);
      // Another campaign of the same id may lead already (a rejoin): it keeps its 1.
      if (![...this.held.values()].some((h) => h.election === election && h.id === labels.id)) this.isLeader.set(labels, 0);
      this.transitions.inc({ ...labels, to: 'lost', reason: lossReason(leadership.signal.reason) });
    };
    if (leadership.signal.aborted) lost();
    else leadership.signal.addEventListener('abort', lost, { once: true });
  }
}

function lossReason(reason: unknown): LossReason | 'unknown' {
  return reason instanceof LeadershipLostError ? reason.reason : 'unknown';
}
