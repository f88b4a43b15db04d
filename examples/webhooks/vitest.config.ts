import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('example-webhooks', { testTimeout: 60_000 });
