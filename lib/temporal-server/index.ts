/** Running a local Temporal dev server: finding the CLI, starting and stopping the server. */
export * from './dev-server';
export * from './resolve-cli';
