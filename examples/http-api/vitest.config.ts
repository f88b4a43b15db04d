import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('example-http-api', { testTimeout: 90_000 });
