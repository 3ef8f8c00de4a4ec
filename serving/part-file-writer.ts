/**
 * A rolling JSON Lines log in the store that never appends: every flush writes the records buffered since
 * the last one as a new part object, `<root>/<yyyy-mm-dd>/<hh>-<replica>-<seq>.jsonl` (UTC). Object stores
 * cannot append and limit rewrites of one object, so a part, once written, is never touched again.
 */
import { joinUri, storageFor } from '../lib/storage';

/** Options of a PartFileWriter. */
export interface PartFileWriterOptions {
  /** The stream's folder, e.g. `<store>/logs/ctr/predictions`. */
  rootUri: string;
  /** Unique per process, so replicas (and restarts) never write the same part name. */
  replicaId: string;
  /** A part is sealed early once its records reach this many bytes. */
  maxPartBytes: number;
  /** Sealed parts waiting for the store (slow or failing) are dropped, oldest first, beyond this. */
  maxPendingBytes: number;
  /** Called with the number of records lost when parts are dropped. */
  onDrop(records: number): void;
  /** Called when a write fails; the part stays queued and is retried on the next flush. */
  onError(err: unknown, uri: string): void;
}

interface OpenPart {
  hour: string;
  lines: string[];
  bytes: number;
}

interface SealedPart {
  uri: string;
  data: string;
  records: number;
  bytes: number;
}

/** Buffers lines per UTC hour and writes them as immutable part objects, in order, one write at a time. */
export class PartFileWriter {
  private open: OpenPart | undefined;
  private readonly sealed: SealedPart[] = [];
  private pendingBytes = 0;
  private seqHour = '';
  private seq = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: PartFileWriterOptions) {}

  /** Buffers one record; cheap and synchronous, the store is only touched by flush(). */
  append(record: object, at: Date): void {
    const hour = at.toISOString().slice(0, 13); // yyyy-mm-ddThh
    if (this.open && this.open.hour !== hour) this.seal();
    const line = `${JSON.stringify(record)}\n`;
    this.open ??= { hour, lines: [], bytes: 0 };
    this.open.lines.push(line);
    this.open.bytes += Buffer.byteLength(line);
    if (this.open.bytes >= this.options.maxPartBytes) this.seal();
  }

  /** Writes everything buffered so far; resolves when it is in the store or has failed (and stays queued). */
  flush(): Promise<void> {
    this.seal();
    const run = this.writing.then(() => this.writeSealed());
    this.writing = run;
    return run;
  }

  private seal(): void {
    const part = this.open;
    if (!part || part.lines.length === 0) return;
    this.open = undefined;
    if (part.hour !== this.seqHour) {
      this.seqHour = part.hour;
      this.seq = 0;
    }
    const [date = '', hh = ''] = part.hour.split('T');
    const name = `${hh}-${this.options.replicaId}-${String(this.seq++).padStart(6, '0')}.jsonl`;
    this.sealed.push({
      uri: joinUri(this.options.rootUri, date, name),
      data: part.lines.join(''),
      records: part.lines.length,
      bytes: part.bytes,
    });
    this.pendingBytes += part.bytes;
    // Memory stays bounded when the store is down: the oldest records go first, and are counted.
    // The newest part is kept, and the one being written is not in `sealed`, so neither is dropped.
    while (this.pendingBytes > this.options.maxPendingBytes && this.sealed.length > 1) {
      const dropped = this.sealed.shift();
      if (!dropped) break;
      this.pendingBytes -= dropped.bytes;
      this.options.onDrop(dropped.records);
    }
  }

  private async writeSealed(): Promise<void> {
    for (let part = this.sealed.shift(); part; part = this.sealed.shift()) {
      try {
        await storageFor(part.uri).write(part.uri, part.data);
      } catch (err) {
        this.sealed.unshift(part);
        this.options.onError(err, part.uri);
        return;
      }
      this.pendingBytes -= part.bytes;
    }
  }
}
