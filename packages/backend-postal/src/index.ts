export { type PostalOptions, postal } from './postal';
