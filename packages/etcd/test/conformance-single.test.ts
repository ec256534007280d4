/**
 * Core's conformance suite against a single member, with real faults: a TCP proxy per
 * handle and member for cut/heal, a lease revoke from another client for
 * expire, a delete from that client for deleteEntry. After every test no
 * key and no lease may remain.
 */
import { afterEach } from '@jest/globals';
import { describeConformance } from '@elect/core/conformance';
import { etcdBackend, type EtcdConformanceBackend } from './support/backend.js';
import { expectClean } from './support/harness.js';

let backend: EtcdConformanceBackend | undefined;

describeConformance(async () => (backend = await etcdBackend(1)), {
  faults: ['expire', 'cut', 'delete'],
  testTimeoutMs: 90_000,
  teardown: (b) => b.close(),
});

// Runs after the suite's own cleanup closed every handle of the test.
afterEach(async () => {
  if (backend) await expectClean(backend.admin, '');
});
