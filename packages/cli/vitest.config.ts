import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('cli', { testTimeout: 60_000 });
