export { migrate, postgresStore, PostgresStore, type PgQueryable, type PostgresStoreOptions } from './postgres-store';
