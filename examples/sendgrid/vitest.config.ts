import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('example-sendgrid', { testTimeout: 60_000 });
