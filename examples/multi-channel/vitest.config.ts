import { heraldProject } from '../../vitest.shared';

export default heraldProject('example-multi-channel', { testTimeout: 120_000 });
