// A process whose only work is one wait on etcd:
//   node waiting-campaign.mjs <endpoints> <election> <ttlMs> campaign
//     campaigns; prints "elected <token>" once it leads, then resigns;
//   node waiting-campaign.mjs <endpoints> <election> <ttlMs> observe
//     prints "leader <id>" per reading ("leader -" for none) until it has
//     seen a leader go.
// Then it closes its connection and exits.
import { connectEtcd } from '../../dist/index.js';

const [endpoints, election, ttlMs, mode] = process.argv.slice(2);
const conn = await connectEtcd({ endpoints, ttlMs: Number(ttlMs) });
if (mode === 'observe') {
  let seen = false;
  for await (const leader of conn.election(election).observe()) {
    process.stdout.write(`leader ${leader?.id ?? '-'}\n`);
    if (leader) seen = true;
    else if (seen) break;
  }
} else {
  const leadership = await conn.election(election).campaign({ id: 'waiting' });
  process.stdout.write(`elected ${leadership.token}\n`);
  await leadership.resign();
}
await conn.close();
