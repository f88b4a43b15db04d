import { defineProject, mergeConfig } from 'vitest/config';
import { heraldProject } from '../../vitest.shared.ts';

// One private prosody per test run (see test/global-setup.ts).
export default mergeConfig(heraldProject('backend-xmpp'), defineProject({ test: { globalSetup: ['./test/global-setup.ts'] } }));
