import { heraldProject } from '../../vitest.shared';

export default heraldProject('example-webhooks', { testTimeout: 60_000 });
