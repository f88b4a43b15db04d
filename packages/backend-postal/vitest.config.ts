import { heraldProject } from '../../vitest.shared';

export default heraldProject('backend-postal');
