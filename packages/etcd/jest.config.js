import { jestProject } from '../../jest.base.js';

// One test campaigns from a separate process, on dist/ (built once here).
export default jestProject(import.meta.url, { globalSetup: '<rootDir>/test/global-setup.mjs' });
