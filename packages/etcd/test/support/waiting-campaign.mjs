// A process whose only work is one campaign: node waiting-campaign.mjs <endpoints> <election> <ttlMs>.
// Prints "elected <token>" once it leads, then resigns and exits.
import { connectEtcd } from '../../dist/index.js';

const [endpoints, election, ttlMs] = process.argv.slice(2);
const conn = await connectEtcd({ endpoints, ttlMs: Number(ttlMs) });
const leadership = await conn.election(election).campaign({ id: 'waiting' });
process.stdout.write(`elected ${leadership.token}\n`);
await leadership.resign();
await conn.close();
