import { heraldProject } from '../../vitest.shared';

export default heraldProject('example-scale-out');
