/** Registry activities: record a candidate, move it through its statuses, look up production. */
import {
  ModelRegistry,
  type ModelVersionRecord,
  type ModelVersionStatus,
  type NewModelVersion,
} from '../lib/registry';
import type { ActivityDeps } from './deps';

export interface SetStatusInput {
  model: string;
  version: string;
  status: ModelVersionStatus;
  note?: string;
}

export function createRegistryActivities(deps: ActivityDeps) {
  const registry = new ModelRegistry(deps.storeUri);
  return {
    /** Registers the candidate; a retry from the same run gets the same version back. */
    async registerModelVersion(entry: NewModelVersion): Promise<ModelVersionRecord> {
      return registry.register(entry);
    },
    async setModelVersionStatus({ model, version, status, note }: SetStatusInput): Promise<void> {
      await registry.setStatus(model, version, status, note);
    },
    /** The version serving production, if any, so evaluation can compare against it. */
    async getProductionVersion({ model }: { model: string }): Promise<ModelVersionRecord | undefined> {
      return registry.getProduction(model);
    },
    async setProductionAlias({ model, version }: { model: string; version: string }): Promise<void> {
      await registry.setProduction(model, version);
    },
  };
}
