// The public API of @herald/cli: the `herald` binary's entry point and its config loader, for wrappers and tests.
export { CONFIG_FILES, ConfigLoadError, findConfig, type ImportedConfig, importConfig, type LoadConfigOptions, type LoadedConfig, loadConfig } from './config';
export { type CliIO, EXIT, type ExitCode } from './_output';
export { createProgram, type MainOptions, main } from './main';
