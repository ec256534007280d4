/**
 * What a backend hands the conformance suite. Each `open()` is a separate
 * client with its own session/lease, as a separate process would have; faults
 * act on that handle's own connection only, and are real (a TCP proxy, a
 * server-side session kill), never simulated inside the client.
 *
 * A reading that must show another handle's change is made on a handle that
 * has seen it (the one that made it, or one that waited for it): ZooKeeper
 * answers reads from the server a session is connected to, in order for that
 * session but not across sessions, so on an ensemble a follower may answer
 * from a copy a moment behind the quorum.
 */
import type { Election } from '../contract.js';
import type { Logger } from '../logger.js';

export interface ConformanceHandle {
  readonly election: Election;
  /**
   * Another election handle on this handle's connection, as
   * `connection.election(name)` makes one; closed with the connection.
   */
  another(name: string): Election;
  /** Makes the server end this handle's session/lease now (ZooKeeper session kill, etcd lease revoke). */
  expire?(): Promise<void>;
  /**
   * Cuts this handle's connection: no traffic reaches the server or comes back
   * (a blackholing proxy, a partition) until `heal()`. The client is not told.
   */
  cut?(): Promise<void>;
  heal?(): Promise<void>;
  /** Closes the election and this handle's connection (idempotent). */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** The suite counts `event: 'wake'` debug records through it. */
  logger?: Logger;
}

export interface ConformanceBackend {
  /** Shown in test titles, e.g. `zookeeper (3-node ensemble)`. */
  readonly name: string;
  /** Session timeout / lease TTL in ms the handles use: the bound on loss detection and failover. */
  readonly sessionTimeoutMs: number;
  /** A fresh, valid election name no other test uses. */
  uniqueName(): string;
  /** Election names this backend must reject (with `InvalidOptionError`) before writing anything. */
  readonly invalidNames: readonly string[];
  /** A new client bound to `electionName`. */
  open(electionName: string, options?: OpenOptions): Promise<ConformanceHandle>;
  /** What is stored on the server under the election (znode or key names); `[]` when nothing is left. */
  residue(electionName: string): Promise<string[]>;
  /**
   * Deletes the entry `key` (a `Leadership.key`) on the server, as an operator
   * forcing a failover does: the `delete` fault.
   */
  deleteEntry?(key: string): Promise<void>;
  /** Scales the suite's timeouts (the test timing base). Default 1. */
  readonly timing?: number;
}
