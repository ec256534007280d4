// The control run starts candidates as separate processes from dist/ (and
// `elect` from the CLI's dist/): build them once before the tests.
// Incremental, so a second run costs about a second.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function buildChaos() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-b', 'packages/chaos'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`building the soak for its tests failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}
