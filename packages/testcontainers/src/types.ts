/**
 * What a test holds: a cluster of ZooKeeper or etcd servers and its members,
 * with the faults a member can suffer. Containers implement it here; elect's
 * own harness implements it with local processes too, so a test is written
 * once and runs on either.
 */

export type ServerKind = 'zookeeper' | 'etcd';
export type Runtime = 'process' | 'container';

/** One server of a cluster (a ZooKeeper peer or an etcd member). */
export interface Member {
  /** Stable name inside its cluster: `zk1`, `etcd2`, … */
  readonly name: string;
  /** The address clients connect to (always on 127.0.0.0/8). */
  readonly host: string;
  readonly clientPort: number;
  /** `host:port`. */
  readonly clientAddress: string;
  /** The server's OS pid while it runs (process runtime), else undefined. */
  readonly pid: number | undefined;
  /** True between a successful start and a stop/kill. A paused member is still running. */
  readonly running: boolean;
  /** Graceful stop (SIGTERM / `docker stop`); resolves once the server is gone. */
  stop(): Promise<void>;
  /** SIGKILL (or `docker kill`); resolves once the server is gone. */
  kill(): Promise<void>;
  /** Start again after stop/kill with the same data and ports; resolves once it serves a real request. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** SIGSTOP (or `docker pause`): the server hangs, its sockets stay open. */
  pause(): Promise<void>;
  /** SIGCONT (or `docker unpause`). */
  resume(): Promise<void>;
}

export interface Cluster {
  readonly kind: ServerKind;
  readonly runtime: Runtime;
  readonly members: readonly Member[];
  /** ZooKeeper connect string (`h:p,h:p`) or etcd endpoints joined by commas (`http://h:p,…`). */
  readonly connectString: string;
  /** etcd: `http://h:p` per member; ZooKeeper: `h:p` per member. */
  readonly endpoints: readonly string[];
  /** The member that is the server-side leader right now (ZooKeeper: mode leader/standalone; etcd: raft leader). */
  serverLeader(): Promise<Member>;
  /** Resolves once every running member serves a real request. */
  waitServing(): Promise<void>;
  /** Stops every member and removes everything the cluster created (data dirs, containers). Idempotent. */
  close(): Promise<void>;
}

export interface ZooKeeperOptions {
  /** 1 = standalone, 3 = ensemble. */
  size?: 1 | 3;
  /** Container image (default: `ELECT_TEST_ZK_IMAGE`, else the official `zookeeper:3.8`); any image that reads the official one's ZOO_* variables. */
  image?: string;
  /** Server tick; session timeouts are clamped to [minSessionTimeoutMs, maxSessionTimeoutMs]. */
  tickTimeMs?: number;
  minSessionTimeoutMs?: number;
  /**
   * `maxClientCnxns`: connections a member accepts from one client address
   * (ZooKeeper's default: 60; 0 = no limit). Everything here connects from
   * 127.0.0.1, so many sessions at once (a herd of candidates) need more.
   */
  maxClientConnections?: number;
  maxSessionTimeoutMs?: number;
  /** Settings that differ between members, in member order (e.g. one member granting longer sessions). */
  members?: ReadonlyArray<{ maxSessionTimeoutMs?: number } | undefined>;
  /**
   * Quorum settings other than ours (ZOOKEEPER_ENSEMBLE), e.g.
   * ZooKeeper's own defaults (ZOOKEEPER_SERVER_DEFAULTS) for a soak at the
   * timing operators run.
   */
  ensemble?: Partial<ZooKeeperEnsemble>;
}

/** How an ensemble's members watch each other and elect a leader. */
export interface ZooKeeperEnsemble {
  /** Ticks a follower may take to connect to a new leader and sync with it. */
  initLimit: number;
  /** Ticks without an answer after which a follower leaves its leader, and a leader without a quorum steps down. */
  syncLimit: number;
  /** `cnxTimeout`: how long a member waits to connect to another during an election (ZooKeeper's default: 5 s). */
  cnxTimeoutMs: number;
  /**
   * `zookeeper.fastleader.maxNotificationInterval` (a JVM property): a member
   * looking for a leader doubles its wait between vote rounds, in which it
   * resends its vote and reconnects to the members it lost, up to this
   * (ZooKeeper's default: 60 s, which would put a minute into any bound on an
   * election).
   */
  maxNotificationIntervalMs: number;
}

export interface EtcdOptions {
  /** 1 = single member, 3 = cluster. */
  size?: 1 | 3;
  /** Container image (default: `ELECT_TEST_ETCD_IMAGE`, else `quay.io/coreos/etcd:v3.4.23`); etcd 3.4 or later at /usr/local/bin/etcd. */
  image?: string;
  /** Extra command-line flags for every member (e.g. auth or TLS settings). */
  extraArgs?: readonly string[];
}
