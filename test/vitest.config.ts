import { mergeConfig } from 'vitest/config';
import { heraldProject } from '../vitest.shared.ts';

// packed/*.test.ts: the packed-install test. Not packed/fixture/, which node runs inside the test's temp project.
export default mergeConfig(heraldProject('e2e'), { test: { include: ['packed/*.test.ts', 'docs/*.test.ts'] } });
