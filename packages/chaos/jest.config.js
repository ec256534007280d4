import { jestProject } from '../../jest.base.js';

// The control run starts candidates from dist/ (separate processes): built once here.
export default jestProject(import.meta.url, { globalSetup: '<rootDir>/test/global-setup.mjs' });
