/**
 * A candidate in a process of its own, for the crash-failover benchmark: it
 * campaigns and prints `LEADER` once it leads, then waits to be SIGKILLed.
 *
 *   node crash-child.js <connectString> <election> <sessionTimeoutMs>
 */
import { connectZooKeeper } from '@elect/zk';

const [connectString, election, timeout] = process.argv.slice(2);
const connection = await connectZooKeeper({ connectString: connectString as string, sessionTimeoutMs: Number(timeout) });
const leadership = await connection.election(election as string).campaign({ id: `child-${process.pid}` });
process.stdout.write(`LEADER ${leadership.token}\n`);
setInterval(() => {}, 60_000);
