/** The model registry's public API: ModelRegistry, its record types and errors, the status rules, version numbers. */
export { ModelRegistry } from './model-registry';
export {
  IllegalStatusChangeError,
  RegistryError,
  RollbackRefusedError,
  UnknownModelVersionError,
} from './errors';
export { allowedNextStatuses, checkStatusChange, wasInProduction } from './transitions';
export { normalizeVersion } from './version-number';
export type {
  AliasChange,
  Approval,
  ChangeOptions,
  Lineage,
  ModelAliases,
  ModelVersionRecord,
  ModelVersionStatus,
  NewModelVersion,
  SetProductionOptions,
  StatusChange,
} from './types';
