import { heraldProject } from '../vitest.shared';

export default heraldProject('e2e');
