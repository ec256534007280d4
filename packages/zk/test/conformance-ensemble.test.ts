/** The core conformance suite against a 3-node ZooKeeper ensemble, each handle through its own proxies. */
import { describeConformance } from '@elect/core/conformance';
import { scaled } from '@elect/test';
import { zkBackend } from './support/backend.js';
import { sessionTimeoutMs, startServer } from './support/zk.js';

describeConformance(async () => zkBackend(await startServer(3)), {
  faults: ['expire', 'cut', 'delete'],
  teardown: (backend) => backend.cluster.close(),
  // Jest's own default (5 s) would apply: the root testTimeout does not reach projects.
  testTimeoutMs: 8 * sessionTimeoutMs + scaled(30_000),
});
