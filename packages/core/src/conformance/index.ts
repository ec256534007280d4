/**
 * `@elect/core/conformance`: the tests every backend must pass, declared with
 * Jest's `describe`/`it` (from `@jest/globals`, an optional peer dependency).
 *
 * @example
 * // packages/zk/test/conformance.test.ts
 * import { describeConformance } from '@elect/core/conformance';
 * describeConformance(async () => zookeeperBackend(await startCluster()), {
 *   faults: ['expire', 'cut'],
 *   teardown: (backend) => backend.cluster.close(),
 * });
 */
import { afterAll, afterEach, beforeAll, describe } from '@jest/globals';
import { basics } from './basics.js';
import { faults } from './faults.js';
import { observe } from './observe.js';
import { priority } from './priority.js';
import { queue } from './queue.js';
import { Suite, type BackendSource, type Fault } from './suite.js';
import type { ConformanceBackend } from './types.js';

export type { ConformanceBackend, ConformanceHandle, OpenOptions } from './types.js';
export { timeouts, type BackendSource, type Fault, type Timeouts } from './suite.js';

export interface ConformanceOptions<B extends ConformanceBackend = ConformanceBackend> {
  /**
   * The faults this backend implements (its handles' `expire()`, `cut()` +
   * `heal()`; its own `deleteEntry()` for `delete`). Tests that need another
   * one are declared skipped, with the reason in their title. Default:
   * `expire` and `cut`. A test that finds a declared fault
   * missing on a handle fails and says so.
   */
  faults?: readonly Fault[];
  /** Runs once after every test (e.g. stops the servers a factory started), even if tests failed. */
  teardown?: (backend: B) => Promise<void> | void;
  /** Jest timeout of each test. Default: derived from `sessionTimeoutMs` when the backend is given as an object, else Jest's. */
  testTimeoutMs?: number;
  /** Jest timeout of the factory (and of `teardown`). Default 120 000 ms. */
  setupTimeoutMs?: number;
}

/**
 * Declares the conformance suite for one backend: a `describe` block named
 * after it with every test of the contract. `backend` is the backend itself
 * or a factory, called once before the tests (start servers there).
 *
 * Each test opens its own handles on a fresh `uniqueName()` and closes them
 * afterwards — healing any it cut — even when it fails. Timeouts derive from
 * `sessionTimeoutMs` and `timing`; waits are on events (campaigns, signals,
 * observe()/events() records), never sleeps. Two deliberate exceptions, both
 * documented where they occur: a short cut lasts a fixed fraction of the
 * session timeout (that is the fault), and setting up waiting candidates
 * re-reads `candidates()` until their entries are written (the contract has no
 * event for that).
 */
export function describeConformance<B extends ConformanceBackend>(
  backend: B | (() => Promise<B>),
  options: ConformanceOptions<B> = {},
): void {
  const source: BackendSource = backend;
  const timeout =
    options.testTimeoutMs ?? (typeof backend === 'function' ? undefined : defaultTestTimeout(backend));
  const suite = new Suite(source, new Set(options.faults ?? ['expire', 'cut']), timeout);
  const title = typeof backend === 'function' ? 'conformance' : `conformance: ${backend.name}`;
  const setupTimeout = options.setupTimeoutMs ?? 120_000;

  describe(title, () => {
    beforeAll(() => suite.setup(), setupTimeout);
    afterEach(() => suite.cleanup(), setupTimeout);
    afterAll(async () => {
      const resolved = suite.ready;
      if (resolved && options.teardown) await options.teardown(resolved as B);
    }, setupTimeout);

    describe('leadership', () => basics(suite));
    describe('queue', () => queue(suite));
    describe('observers', () => observe(suite));
    describe('session loss', () => faults(suite));
    describe('priority', () => priority(suite));
  });
}

function defaultTestTimeout(backend: ConformanceBackend): number {
  return Math.round((8 * backend.sessionTimeoutMs + 30_000) * (backend.timing ?? 1));
}
