/** The core conformance suite against a standalone ZooKeeper server, with real faults. */
import { describeConformance } from '@elect/core/conformance';
import { scaled } from '@elect/test';
import { zkBackend } from './support/backend.js';
import { sessionTimeoutMs, startServer } from './support/zk.js';

describeConformance(async () => zkBackend(await startServer(1)), {
  faults: ['expire', 'cut', 'delete'],
  teardown: (backend) => backend.cluster.close(),
  // Jest's own default (5 s) would apply: the root testTimeout does not reach projects.
  testTimeoutMs: 8 * sessionTimeoutMs + scaled(30_000),
});
