/** One model version loaded in memory, counted while requests use it so it is disposed only once they finish. */
import type { ModelBundle } from '../lib/model';
import { instanceReaderFor, type InstanceReader } from './instance-reader';

/** A loaded bundle plus the bookkeeping that lets a reload retire it without failing in-flight requests. */
export class LoadedVersion {
  private inFlight = 0;
  private retired = false;
  private disposed = false;
  /** Validates instances against this version's own feature spec. */
  readonly readInstance: InstanceReader;

  constructor(
    readonly model: string,
    readonly version: string,
    readonly modelUri: string,
    readonly bundle: ModelBundle,
  ) {
    this.readInstance = instanceReaderFor(bundle.preprocessing.spec);
  }

  /** Marks the version in use; call the returned function exactly when the request is done with it. */
  acquire(): () => void {
    this.inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.disposeIfUnused();
    };
  }

  /** No new request will be routed here; the weights are freed when the last in-flight one releases. */
  retire(): void {
    this.retired = true;
    this.disposeIfUnused();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private disposeIfUnused(): void {
    if (!this.retired || this.inFlight > 0 || this.disposed) return;
    this.disposed = true;
    this.bundle.model.dispose();
  }
}
