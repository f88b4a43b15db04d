import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('server', { testTimeout: 60_000 });
