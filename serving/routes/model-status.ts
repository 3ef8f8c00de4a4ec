/**
 * `GET /v1/models/{model}[/versions/{v}]`: the versions this replica serves (or the one named), in
 * TensorFlow Serving's status shape, with our roles and weights beside it.
 */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context';
import { HttpError } from '../errors';
import type { Role } from '../router';

/** One served version. */
export interface VersionStatus {
  version: string;
  state: 'AVAILABLE';
  /** `shadow`: a candidate that serves no one; its weight is 0 and `mirror_percent` of stable's requests are copied to it. */
  role: Role | 'shadow';
  /** Percent of traffic routed to this version when no routing key pins a user. */
  weight: number;
  status: { error_code: 'OK'; error_message: '' };
  mirror_percent?: number;
}

/** The answer of the status route; `desired_revision` appears while the store's newest state fails to load. */
export interface ModelStatusResponse {
  model_version_status: VersionStatus[];
  deployment_revision: number | null;
  desired_revision?: number;
}

/** Registers the model status routes. */
export function registerModelStatusRoute(app: FastifyInstance, context: ServingContext): void {
  app.get<{ Params: { model: string } }>('/v1/models/:model', (request) =>
    modelStatus(context, request.params.model),
  );
  app.get<{ Params: { model: string; version: string } }>(
    '/v1/models/:model/versions/:version',
    (request): ModelStatusResponse => {
      const { model, version } = request.params;
      const status = modelStatus(context, model);
      const entries = status.model_version_status.filter((entry) => entry.version === version);
      if (entries.length === 0) {
        throw new HttpError(
          404,
          'version_not_loaded',
          `version ${version} of model ${model} is not loaded here`,
        );
      }
      return { ...status, model_version_status: entries };
    },
  );
}

function modelStatus(context: ServingContext, model: string): ModelStatusResponse {
  const status = context.watcher.status(model);
  if (!status) throw new HttpError(404, 'model_not_found', `no model named ${model} is served here`);
  const served = context.watcher.servedModel(model);
  const versions: VersionStatus[] = [];
  const canaryWeight = served?.table.canary?.weight ?? 0;
  if (served?.table.stable) versions.push(entry(served.table.stable.version, 'stable', 100 - canaryWeight));
  if (served?.table.canary) versions.push(entry(served.table.canary.version, 'canary', canaryWeight));
  if (served?.table.shadow) {
    versions.push({
      ...entry(served.table.shadow.version, 'shadow', 0),
      mirror_percent: served.table.shadow.percent,
    });
  }
  const response: ModelStatusResponse = {
    model_version_status: versions,
    deployment_revision: served?.revision ?? null,
  };
  if (status.desiredRevision !== undefined && status.desiredRevision !== served?.revision) {
    response.desired_revision = status.desiredRevision;
  }
  return response;
}

function entry(version: string, role: VersionStatus['role'], weight: number): VersionStatus {
  return { version, state: 'AVAILABLE', role, weight, status: { error_code: 'OK', error_message: '' } };
}
