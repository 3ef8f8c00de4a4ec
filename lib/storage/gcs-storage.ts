/**
 * Storage on Google Cloud Storage through @google-cloud/storage: credentials come from
 * Application Default Credentials, and STORAGE_EMULATOR_HOST points it at an emulator.
 * Compare-and-swap is GCS's own: uploads with an `ifGenerationMatch` precondition.
 */
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { type File, Storage as GcsClient, type StorageOptions } from '@google-cloud/storage';
import { NotFoundError, type ReadRange, type Storage, type VersionedObject } from './storage';
import { formatGsUri, parseGsUri } from './uri';

/** Deletes in flight at once when a folder is deleted. */
const DELETE_CONCURRENCY = 16;

function statusOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

/**
 * Turns a failure into a message a person can act on: a missing bucket (a 404 where an object's
 * absence is no error: a write or a listing) or refused credentials, which say where they come from.
 */
function explain(err: unknown, uri: string): Error {
  const status = statusOf(err);
  if (status === 404) {
    const { bucket } = parseGsUri(uri);
    return new Error(`GCS bucket ${bucket} does not exist (${uri})`, { cause: err });
  }
  if (status !== 401 && status !== 403) return err instanceof Error ? err : new Error(String(err));
  return new Error(
    `GCS refused ${uri} (${String(status)}: ${(err as Error).message}); credentials come from ` +
      'Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, ' +
      'or the attached service account',
    { cause: err },
  );
}

/**
 * The emulator's origin from STORAGE_EMULATOR_HOST in any form other clients accept: `host:port`
 * (http, as the Go and Python clients assume), `http://host:port`, or either with `/storage/v1`.
 */
export function emulatorOrigin(emulatorHost: string): string {
  const withScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`;
  return withScheme.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
}

/**
 * A GCS client as the library makes one (Application Default Credentials, its retry policy),
 * pointed at STORAGE_EMULATOR_HOST when that is set.
 */
export function createGcsClient(options: StorageOptions = {}): GcsClient {
  const emulatorHost = process.env.STORAGE_EMULATOR_HOST;
  if (!emulatorHost) return new GcsClient(options);
  const origin = emulatorOrigin(emulatorHost);
  const client = new GcsClient({ ...options, apiEndpoint: origin });
  // The library sends JSON API calls to STORAGE_EMULATOR_HOST as given, but uploads to it plus
  // /upload/storage/v1, so one of the two always misses an emulator that serves both under one
  // origin (googleapis/nodejs-storage#1314): point the JSON API at <origin>/storage/v1 as for GCS.
  client.baseUrl = `${origin}/storage/v1`;
  return client;
}

export interface GcsStorageOptions {
  /** Client options (project, retries, ...); by default the library's own discovery. */
  client?: StorageOptions;
}

export class GcsStorage implements Storage {
  private cached?: { emulatorHost: string | undefined; client: GcsClient };

  constructor(private readonly options: GcsStorageOptions = {}) {}

  /** Clients read STORAGE_EMULATOR_HOST when made, so a new value (a test's emulator) means a new client. */
  private client(): GcsClient {
    const emulatorHost = process.env.STORAGE_EMULATOR_HOST;
    if (this.cached && this.cached.emulatorHost === emulatorHost) return this.cached.client;
    const client = createGcsClient(this.options.client);
    this.cached = { emulatorHost, client };
    return client;
  }

  private file(uri: string): File {
    const { bucket, name } = parseGsUri(uri);
    if (name === '' || name.endsWith('/')) throw new Error(`${uri} names a folder, not an object`);
    return this.client().bucket(bucket).file(name);
  }

  async read(uri: string): Promise<Buffer> {
    try {
      const [data] = await this.file(uri).download();
      return data;
    } catch (err) {
      if (statusOf(err) === 404) throw new NotFoundError(uri);
      throw explain(err, uri);
    }
  }

  async createReadStream(uri: string, range: ReadRange = {}): Promise<Readable> {
    const file = this.file(uri);
    let size: number;
    try {
      const [metadata] = await file.getMetadata();
      size = Number(metadata.size);
    } catch (err) {
      if (statusOf(err) === 404) throw new NotFoundError(uri);
      throw explain(err, uri);
    }
    // GCS answers 416 to a range past the end; local disk streams nothing. Keep local's answer.
    if ((range.start ?? 0) >= size) return Readable.from([]);
    // One GET, so one generation of the object, whatever is written meanwhile.
    const source = file.createReadStream({ start: range.start, end: range.end });
    const output = new PassThrough();
    source.on('error', (err) => {
      // Deleted between the metadata and the GET.
      output.destroy(statusOf(err) === 404 ? new NotFoundError(uri) : explain(err, uri));
    });
    return source.pipe(output);
  }

  async write(uri: string, data: Buffer | string): Promise<void> {
    // One multipart request, not a resumable session: atomic, and what emulators handle reliably.
    try {
      await this.file(uri).save(data, { resumable: false });
    } catch (err) {
      throw explain(err, uri);
    }
  }

  async writeIfAbsent(uri: string, data: Buffer | string): Promise<boolean> {
    return this.saveIfGeneration(uri, data, 0);
  }

  async readVersioned(uri: string): Promise<VersionedObject | undefined> {
    const file = this.file(uri);
    let generation: string | undefined;
    try {
      // One request: the content and, in the same response's headers, the generation it belongs to.
      const stream = file.createReadStream();
      stream.on('response', (response: { headers?: Record<string, string | string[] | undefined> }) => {
        const header = response.headers?.['x-goog-generation'];
        generation = Array.isArray(header) ? header[0] : header;
      });
      const data = await buffer(stream);
      if (generation === undefined) throw new Error(`GCS sent no x-goog-generation header for ${uri}`);
      return { data, generation };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw explain(err, uri);
    }
  }

  async writeIfGeneration(uri: string, data: Buffer | string, generation: string | null): Promise<boolean> {
    // A token from another store (a sha256) can never be this object's generation.
    if (generation !== null && !/^[1-9]\d*$/.test(generation)) return false;
    return this.saveIfGeneration(uri, data, generation ?? 0);
  }

  /** Uploads only if the object is at `generation` (0: absent); GCS answers 412 otherwise. */
  private async saveIfGeneration(uri: string, data: Buffer | string, generation: string | number) {
    try {
      await this.file(uri).save(data, {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: generation },
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 412) return false;
      throw explain(err, uri);
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      const [exists] = await this.file(uri).exists();
      return exists;
    } catch (err) {
      throw explain(err, uri);
    }
  }

  async list(prefixUri: string): Promise<string[]> {
    return this.listFrom(prefixUri, '');
  }

  async listFrom(prefixUri: string, startOffset: string): Promise<string[]> {
    const { bucket, name } = parseGsUri(prefixUri);
    // A folder's objects, as on disk: gs://b/runs must not list gs://b/runs-old/x.
    const prefix = name === '' || name.endsWith('/') ? name : `${name}/`;
    try {
      const [files] = await this.client()
        .bucket(bucket)
        .getFiles({
          prefix,
          ...(startOffset === '' ? {} : { startOffset: `${prefix}${startOffset}` }),
          autoPaginate: true,
          fields: 'items(name),nextPageToken',
        });
      return files
        .map((file) => file.name)
        .filter((objectName) => !objectName.endsWith('/')) // folder placeholders made by consoles
        .map((objectName) => formatGsUri(bucket, objectName))
        .sort();
    } catch (err) {
      throw explain(err, prefixUri);
    }
  }

  async delete(uri: string): Promise<void> {
    const { name } = parseGsUri(uri);
    try {
      if (name !== '' && !name.endsWith('/')) await this.file(uri).delete({ ignoreNotFound: true });
      const under = await this.list(uri);
      for (let i = 0; i < under.length; i += DELETE_CONCURRENCY) {
        await Promise.all(
          under
            .slice(i, i + DELETE_CONCURRENCY)
            .map((objectUri) => this.file(objectUri).delete({ ignoreNotFound: true })),
        );
      }
    } catch (err) {
      throw explain(err, uri);
    }
  }
}
