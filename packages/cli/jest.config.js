import { jestProject } from '../../jest.base.js';

// The tests in test/e2e run bin/elect.js, which needs dist/ and the bundle: built once here.
export default jestProject(import.meta.url, { globalSetup: '<rootDir>/test/global-setup.mjs' });
