import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('example-multi-channel', { testTimeout: 120_000 });
