import { heraldProject } from '../../vitest.shared';

export default heraldProject('store-postgres');
