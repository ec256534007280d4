// The control run starts candidates as separate processes from dist/ (and
// `elect` from the CLI's bundle): build them once before the tests.
import { buildElect, buildProject } from '../../../jest.base.js';

export default function buildChaos() {
  buildProject('packages/chaos', 'the soak for its tests', ['core', 'zk', 'etcd']);
  buildElect('the soak\'s tests');
}
