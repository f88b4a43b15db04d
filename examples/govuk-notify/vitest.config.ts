import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('example-govuk-notify', { testTimeout: 60_000 });
