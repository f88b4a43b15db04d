import { heraldProject } from '../../vitest.shared.ts';

export default heraldProject('backend-sendgrid');
