/**
 * ZooKeeper in containers: a standalone server or a 3-node ensemble, each
 * server configured only through the official image's ZOO_* variables, so
 * the official `zookeeper` image and equivalents built offline both work.
 * Also the settings and the timing every ZooKeeper of ours runs with, in a
 * container or (in elect's own harness) as a local process.
 */
import { startContainerCluster, type MemberPlan } from './cluster.js';
import { zooKeeperImage } from './engine.js';
import { zooKeeperMode } from './fourletter.js';
import { freePorts, retryOnPortClash } from './ports.js';
import { waitUntil } from './timing.js';
import type { Cluster, Member, ZooKeeperEnsemble, ZooKeeperOptions } from './types.js';

/** Defaults: a small tick so sessions and elections are quick, but not so small that a busy CI box flaps. */
export const ZOOKEEPER_DEFAULTS = { size: 1, tickTimeMs: 250 } as const;

/**
 * The quorum settings every ensemble member gets, in both runtimes, unless a
 * caller asks for others (`ensemble`). Budgets for what an ensemble does
 * after a fault come from these (`zooKeeperTiming`), not from numbers of the
 * tests' own.
 */
export const ZOOKEEPER_ENSEMBLE: Readonly<ZooKeeperEnsemble> = {
  initLimit: 20,
  syncLimit: 8,
  cnxTimeoutMs: 1000,
  maxNotificationIntervalMs: 1000,
};

/**
 * ZooKeeper's own defaults: tickTime 2000 (the sample config's, which
 * operators keep), initLimit 10 and syncLimit 5 (the sample's), cnxTimeout
 * 5 s and maxNotificationInterval 60 s (the server's built-in values).
 */
export const ZOOKEEPER_SERVER_DEFAULTS = {
  tickTimeMs: 2000,
  ensemble: { initLimit: 10, syncLimit: 5, cnxTimeoutMs: 5000, maxNotificationIntervalMs: 60_000 },
} as const satisfies Pick<ZooKeeperOptions, 'tickTimeMs' | 'ensemble'>;

/** The quorum settings of an ensemble started with `options`. */
export function ensembleOf(options: Pick<ZooKeeperOptions, 'ensemble'> = {}): ZooKeeperEnsemble {
  return { ...ZOOKEEPER_ENSEMBLE, ...options.ensemble };
}

/** FastLeaderElection's finalizeWait: how long a member waits for late votes before it settles (fixed in ZooKeeper). */
const FINALIZE_WAIT_MS = 200;

/** How long an ensemble takes to do what it does after a fault, from its own settings (base ms, for the timing helpers). */
export interface ZooKeeperTiming {
  tickTimeMs: number;
  /**
   * Until a member acts on a lost peer: a follower gives up on a silent leader,
   * a leader without a quorum steps down, a member holding a session request
   * it cannot commit drops the connection (`syncLimit` ticks, plus the tick
   * the leader checks on).
   */
  lossDetectionMs: number;
  /**
   * One leader election and the followers' sync: connecting to the peers (one
   * that does not answer costs `cnxTimeout`), a vote round (at most the capped
   * notification interval), finalizeWait, then `initLimit` ticks to sync.
   * Also how long a member that was cut off takes to rejoin once its
   * connections carry packets again — which after a heal can take about as
   * long as the cut lasted: TCP resends what the cut dropped on a doubling timer.
   */
  electionMs: number;
  /** From a member or the leader being lost to a quorum serving again: detection, then an election. */
  recoveryMs: number;
}

/** The timing of an ensemble started with `options` (`tickTimeMs` and `ensemble` matter). */
export function zooKeeperTiming(options: Pick<ZooKeeperOptions, 'tickTimeMs' | 'ensemble'> = {}): ZooKeeperTiming {
  const tickTimeMs = options.tickTimeMs ?? ZOOKEEPER_DEFAULTS.tickTimeMs;
  const { initLimit, syncLimit, cnxTimeoutMs, maxNotificationIntervalMs } = ensembleOf(options);
  const lossDetectionMs = (syncLimit + 1) * tickTimeMs;
  const electionMs = cnxTimeoutMs + maxNotificationIntervalMs + FINALIZE_WAIT_MS + initLimit * tickTimeMs;
  return { tickTimeMs, lossDetectionMs, electionMs, recoveryMs: lossDetectionMs + electionMs };
}

/** JVM properties of the election (see ZooKeeperEnsemble); local processes get the same. */
export function zooKeeperElectionJvmFlags(ensemble: ZooKeeperEnsemble): string[] {
  return [`-Dzookeeper.fastleader.maxNotificationInterval=${ensemble.maxNotificationIntervalMs}`];
}


/**
 * The running member whose `srvr` says leader (or standalone) right now, or
 * undefined unless exactly one does (none while electing; two while a cut-off
 * leader has not yet noticed that the others elected another).
 */
export async function zooKeeperLeaderNow(members: readonly Member[]): Promise<Member | undefined> {
  const running = members.filter((member) => member.running);
  const modes = await Promise.all(running.map((member) => zooKeeperMode(member, { timeoutMs: 1000 }).catch(() => undefined)));
  const leaders = running.filter((_, i) => modes[i] === 'leader' || modes[i] === 'standalone');
  return leaders.length === 1 ? leaders[0] : undefined;
}

/**
 * The running member whose `srvr` says leader (or standalone). Polls until
 * exactly one does: right after a failure the survivors are still electing.
 */
export async function zooKeeperLeader(members: readonly Member[]): Promise<Member> {
  return await waitUntil(() => zooKeeperLeaderNow(members), { timeoutMs: 30_000, what: 'a ZooKeeper server to lead' });
}


/** Four-letter words tests may use. */
const FOUR_LETTER_WORDS = 'srvr,stat,mntr,ruok,cons,wchs,wchc,dump,conf';

/** A small heap and a fast-starting JIT: these servers hold little data and live briefly. */
const JVM_FLAGS = '-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData';

/**
 * Starts the servers and resolves once every one serves. Ports come from the
 * OS; if another process takes one before a server binds it, the cluster is
 * started again on fresh ports.
 */
export async function startZooKeeperContainer(opts: ZooKeeperOptions = {}): Promise<Cluster> {
  return await retryOnPortClash(() => startOnce(opts));
}

async function startOnce(opts: ZooKeeperOptions): Promise<Cluster> {
  const size = opts.size ?? ZOOKEEPER_DEFAULTS.size;
  const tickTimeMs = opts.tickTimeMs ?? ZOOKEEPER_DEFAULTS.tickTimeMs;
  const ensemble = ensembleOf(opts);
  const ports = await freePorts(size * 3);
  const servers = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    name: `zk${i + 1}`,
    clientPort: ports[i * 3]!,
    quorumPort: ports[i * 3 + 1]!,
    electionPort: ports[i * 3 + 2]!,
  }));
  // `server.N=host:quorum:election;clientHost:clientPort`: the client port in
  // the server line is the one form both images understand for every server.
  const serverLines = servers
    .map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort};127.0.0.1:${s.clientPort}`)
    .join(' ');
  // The same server settings as elect's local-process runtime, so a test
  // behaves the same on either.
  const extra = (index: number): string[] => [
    `minSessionTimeout=${opts.minSessionTimeoutMs ?? 2 * tickTimeMs}`,
    `maxSessionTimeout=${opts.members?.[index]?.maxSessionTimeoutMs ?? opts.maxSessionTimeoutMs ?? 60_000}`,
    // Test data is disposable: no fsync, no 64 MB preallocated logs.
    'forceSync=no',
    'preAllocSize=4096',
    `cnxTimeout=${ensemble.cnxTimeoutMs}`,
    ...(opts.maxClientConnections === undefined ? [] : [`maxClientCnxns=${opts.maxClientConnections}`]),
  ];

  const members: MemberPlan[] = servers.map((s, index) => ({
    name: s.name,
    clientPort: s.clientPort,
    env: {
      ZOO_MY_ID: String(s.id),
      ZOO_SERVERS: serverLines,
      ZOO_TICK_TIME: String(tickTimeMs),
      // In ticks: how long followers may take to connect and sync, and to answer.
      ZOO_INIT_LIMIT: String(ensemble.initLimit),
      ZOO_SYNC_LIMIT: String(ensemble.syncLimit),
      ZOO_STANDALONE_ENABLED: 'true',
      // Its HTTP port (8080) would collide between members on the host network.
      ZOO_ADMINSERVER_ENABLED: 'false',
      ZOO_4LW_COMMANDS_WHITELIST: FOUR_LETTER_WORDS,
      ZOO_CFG_EXTRA: extra(index).join(' '),
      JVMFLAGS: [JVM_FLAGS, ...zooKeeperElectionJvmFlags(ensemble)].join(' '),
    },
    probe: async () => {
      if ((await zooKeeperMode({ host: '127.0.0.1', port: s.clientPort })) === undefined) {
        throw new Error(`${s.name} answers but does not serve yet`);
      }
    },
  }));

  return startContainerCluster({
    kind: 'zookeeper',
    image: opts.image ?? zooKeeperImage(),
    members,
    connectString: servers.map((s) => `127.0.0.1:${s.clientPort}`).join(','),
    endpoints: servers.map((s) => `127.0.0.1:${s.clientPort}`),
    // The same rule as for local processes: the one running server that
    // answers `srvr` as leader (a paused one cannot answer).
    serverLeader: (all) => zooKeeperLeader(all),
  });
}
