export { type SmtpOptions, smtp } from './smtp';
