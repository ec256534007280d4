/**
 * A candidate in its own process, for the crash-failover benchmark:
 * campaigns, prints `leading <ms since epoch>` once elected, then waits to be
 * killed. Usage: node candidate.js ENDPOINT NAME TTL_MS
 */
import { connectEtcd } from '@elect/etcd';

const [endpoint, name, ttl] = process.argv.slice(2);
const connection = await connectEtcd({ endpoints: endpoint!, ttlMs: Number(ttl) });
const leadership = await connection.election(name!).campaign({ id: `crashing-${process.pid}` });
process.stdout.write(`leading ${Date.now()} ${leadership.token}\n`);
setInterval(() => {}, 1 << 30);
