import { heraldProject } from '../vitest.shared.ts';

export default heraldProject('e2e');
