// The control run starts candidates as separate processes from dist/ (and
// `elect` from the CLI's dist/): build them once before the tests.
import { buildProject } from '../../../jest.base.js';

export default function buildChaos() {
  buildProject('packages/chaos', 'the soak for its tests');
}
