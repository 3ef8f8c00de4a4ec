/** The errors the registry throws when a request is wrong. */

/** Base of the errors that retrying cannot fix: the request itself is wrong. */
export class RegistryError extends Error {
  override name = 'RegistryError';
}

/** The model has no such version (or the version is not a number). */
export class UnknownModelVersionError extends RegistryError {
  override name = 'UnknownModelVersionError';
  constructor(
    readonly model: string,
    readonly version: string,
  ) {
    super(`model ${model} has no version ${version}`);
  }
}

/** The transition table does not allow this status change. */
export class IllegalStatusChangeError extends RegistryError {
  override name = 'IllegalStatusChangeError';
}

/** There is no version a rollback may put back in production. */
export class RollbackRefusedError extends RegistryError {
  override name = 'RollbackRefusedError';
}
