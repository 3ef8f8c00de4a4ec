import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createGcsClient, emulatorOrigin, GcsStorage } from '../../../lib/storage/gcs-storage';
import { LocalStorage } from '../../../lib/storage/local-storage';
import {
  NotFoundError,
  joinUri,
  parseGsUri,
  readJsonIfExists,
  resolveUri,
  schemeOf,
  storageFor,
  toLocalPath,
  updateJson,
  type Storage,
} from '../../../lib/storage/index';
import { startGcsEmulator, type GcsEmulatorHandle } from '../../helpers/gcs-emulator';

const REPO = path.resolve(__dirname, '..', '..', '..');

/** One store under test: a root URI to work under, and what only that backend can tell. */
interface Backend {
  name: string;
  /** A fresh, empty root URI for the backend's tests. */
  open(): Promise<{ root: string; close(): Promise<void> }>;
  /** Every object under a prefix, temporary files and locks included (unlike storage.list). */
  everything(prefix: string): Promise<string[]>;
  /** Replaces an object synchronously, the way another writer would, bypassing this process's store. */
  overwriteSync(uri: string, content: string): void;
  /** Changes whenever the object is written, even with the same content. */
  writeStamp(uri: string): Promise<string>;
}

let emulator: GcsEmulatorHandle | undefined;

const BACKENDS: Backend[] = [
  {
    name: 'local disk',
    async open() {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-storage-'));
      return { root, close: () => fs.rm(root, { recursive: true, force: true }) };
    },
    async everything(prefix) {
      const entries = await fs.readdir(prefix, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries
        .filter((entry) => entry.isFile())
        .map((entry) => path.join(entry.parentPath, entry.name))
        .sort();
    },
    overwriteSync(uri, content) {
      writeFileSync(toLocalPath(uri), content);
    },
    async writeStamp(uri) {
      // Not the generation: on disk that is the content's hash, the same for a rewrite.
      const { mtimeMs, ino } = await fs.stat(toLocalPath(uri));
      return `${ino}:${mtimeMs}`;
    },
  },
  {
    name: 'GCS (fake-gcs-server)',
    async open() {
      emulator = await startGcsEmulator();
      const handle = emulator;
      return { root: handle.uri('store'), close: () => handle.close() };
    },
    everything(prefix) {
      // GCS has no temporary files or locks: what the bucket lists is everything there is.
      return new GcsStorage().list(prefix);
    },
    overwriteSync(uri, content) {
      const { bucket, name } = parseGsUri(uri);
      const url = `${emulator!.host}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`;
      const upload = `fetch(${JSON.stringify(url)}, { method: 'POST', body: ${JSON.stringify(content)} })
        .then((r) => { if (!r.ok) throw new Error('upload: ' + r.status); })`;
      const result = spawnSync(process.execPath, ['-e', upload], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
    },
    async writeStamp(uri) {
      // Every upload makes a new generation, the same content included.
      return (await new GcsStorage().readVersioned(uri))!.generation;
    },
  },
];

interface Counter {
  count: number;
}

const increment = (current: Counter | undefined): Counter => ({ count: (current?.count ?? 0) + 1 });

/** Runs `increments` concurrent updateJson increments of `uri` in a separate Node process, once all `barrier.processes` are up. */
async function incrementInChild(
  script: string,
  uri: string,
  increments: number,
  barrier: { dir: string; processes: number },
): Promise<void> {
  const args = [script, uri, String(increments), barrier.dir, String(barrier.processes)];
  // The child inherits STORAGE_EMULATOR_HOST, so gs:// URIs reach the same emulator.
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.equal(code, 0, `child exited with ${code}: ${stderr}`);
}

for (const backend of BACKENDS) {
  void describe(`storage on ${backend.name}`, () => {
    let root: string;
    let opened: { root: string; close(): Promise<void> } | undefined;
    let storage: Storage;
    before(async () => {
      opened = await backend.open();
      root = opened.root;
      storage = storageFor(root);
    });
    after(async () => {
      await opened?.close();
    });
    const at = (...parts: string[]) => joinUri(root, ...parts);

    void describe('objects', () => {
      void it('writes into folders it creates, replaces content, and leaves no temporary object behind', async () => {
        const uri = at('write', 'a', 'b', 'object.json');
        await storage.write(uri, '{"v":1}');
        assert.equal((await storage.read(uri)).toString('utf8'), '{"v":1}');
        await storage.write(uri, Buffer.from('{"v":2}'));
        assert.equal((await storage.read(uri)).toString('utf8'), '{"v":2}');
        assert.deepEqual(await backend.everything(at('write')), [uri]);
      });

      void it('keeps binary content byte for byte, empty objects included', async () => {
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await storage.write(at('binary', 'all-bytes.bin'), bytes);
        assert.ok((await storage.read(at('binary', 'all-bytes.bin'))).equals(bytes));
        await storage.write(at('binary', 'empty.bin'), Buffer.alloc(0));
        assert.equal((await storage.read(at('binary', 'empty.bin'))).length, 0);
        assert.equal(await storage.exists(at('binary', 'empty.bin')), true);
      });

      void it('never lets a reader see a partly written object', async () => {
        const uri = at('atomic', 'blob.bin');
        const size = 2 * 1024 * 1024;
        const contents = ['a', 'b', 'c'].map((char) => Buffer.alloc(size, char));
        await storage.write(uri, contents[0]!);
        let reads = 0;
        let writing = true;
        const reader = (async () => {
          while (writing) {
            const bytes = await storage.read(uri);
            assert.equal(bytes.length, size, `read ${bytes.length} bytes mid-write`);
            assert.ok(
              contents.some((content) => content.equals(bytes)),
              'read a mix of two writes',
            );
            reads += 1;
          }
        })();
        try {
          for (let i = 0; i < 30; i++) await storage.write(uri, contents[i % contents.length]!);
        } finally {
          writing = false;
        }
        await reader;
        assert.ok(reads > 0);
        assert.deepEqual(await backend.everything(at('atomic')), [uri]);
      });

      void it('streams a whole object, or a byte range of it with both ends inclusive', async () => {
        const uri = at('stream', 'digits.txt');
        await storage.write(uri, '0123456789');
        assert.equal(await text(await storage.createReadStream(uri)), '0123456789');
        assert.equal(await text(await storage.createReadStream(uri, { start: 2, end: 5 })), '2345');
        assert.equal(await text(await storage.createReadStream(uri, { start: 7 })), '789');
        assert.equal(await text(await storage.createReadStream(uri, { end: 2 })), '012');
        assert.equal(await text(await storage.createReadStream(uri, { start: 8, end: 100 })), '89');
        assert.equal(
          await text(await storage.createReadStream(uri, { start: 10 })),
          '',
          'past the end: nothing',
        );
      });

      void it('writeIfAbsent creates once, returns false afterwards and keeps the first content', async () => {
        const uri = at('exclusive', 'claim.json');
        assert.equal(await storage.writeIfAbsent(uri, 'first'), true);
        assert.equal(await storage.writeIfAbsent(uri, 'second'), false);
        assert.equal((await storage.read(uri)).toString('utf8'), 'first');
        assert.deepEqual(await backend.everything(at('exclusive')), [uri]);
      });

      void it('writeIfAbsent lets exactly one of many concurrent writers win, with its whole content', async () => {
        const uri = at('race', 'claim.bin');
        const contents = Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024, 65 + i));
        const won = await Promise.all(contents.map((content) => storage.writeIfAbsent(uri, content)));
        assert.equal(won.filter(Boolean).length, 1);
        const winner = contents[won.indexOf(true)]!;
        assert.ok((await storage.read(uri)).equals(winner));
        assert.deepEqual(await backend.everything(at('race')), [uri]);
      });

      void it('throws NotFoundError carrying the uri when reading or streaming a missing object', async () => {
        const uri = at('missing', 'nothing.json');
        await assert.rejects(storage.read(uri), (err: unknown) => {
          assert.ok(err instanceof NotFoundError);
          assert.equal(err.uri, uri);
          assert.equal(err.message, `not found: ${uri}`);
          return true;
        });
        await assert.rejects(
          storage.createReadStream(uri),
          (err: unknown) => err instanceof NotFoundError && err.uri === uri,
        );
        await assert.rejects(
          storage.createReadStream(uri, { start: 1, end: 2 }),
          (err: unknown) => err instanceof NotFoundError && err.uri === uri,
        );
        assert.equal(await storage.exists(uri), false);
      });

      void it('lists every object under a prefix, sorted and recursive, and nothing beside it', async () => {
        const prefix = at('listing');
        await storage.write(joinUri(prefix, 'b.json'), 'b');
        await storage.write(joinUri(prefix, 'a.json'), 'a');
        await storage.write(joinUri(prefix, 'sub', 'c.json'), 'c');
        // A sibling whose name starts like the prefix is not under it.
        await storage.write(at('listing-old', 'd.json'), 'd');
        const expected = [
          joinUri(prefix, 'a.json'),
          joinUri(prefix, 'b.json'),
          joinUri(prefix, 'sub', 'c.json'),
        ];
        assert.deepEqual(await storage.list(prefix), expected);
        assert.deepEqual(await storage.list(`${prefix}/`), expected, 'a trailing slash changes nothing');
      });

      void it('lists a missing prefix as empty', async () => {
        assert.deepEqual(await storage.list(at('no', 'such', 'prefix')), []);
      });

      void it('listFrom lists only the objects that sort at or after an offset, as list would order them', async () => {
        const prefix = at('listing-from');
        const names = [
          '2026-11-24/23-a-000000.jsonl',
          '2026-11-25/05-a-000000.jsonl',
          '2026-11-25/20-b-000009.jsonl',
          '2026-11-25/21-a-000000.jsonl',
          '2026-11-25/21-b-000001.jsonl',
          '2026-11-25/22-a-000000.jsonl',
          '2026-11-25/deeper/x.json',
          '2026-11-26/00-a-000000.jsonl',
          'top.json',
        ];
        for (const name of [...names].reverse()) await storage.write(joinUri(prefix, name), name);
        // A sibling whose name starts like the prefix is not under it, whatever the offset.
        await storage.write(at('listing-from-old', '2026-11-26', '00-a-000000.jsonl'), 'old');
        const under = (kept: string[]) => kept.map((name) => joinUri(prefix, name));

        assert.deepEqual(
          await storage.listFrom(prefix, ''),
          await storage.list(prefix),
          "'' lists everything",
        );
        assert.deepEqual(await storage.listFrom(prefix, '2026-11-25/21'), under(names.slice(3)));
        assert.deepEqual(
          await storage.listFrom(`${prefix}/`, '2026-11-25/21'),
          under(names.slice(3)),
          'a trailing slash changes nothing',
        );
        assert.deepEqual(
          await storage.listFrom(prefix, '2026-11-25/21-b-000001.jsonl'),
          under(names.slice(4)),
          'the offset itself is included',
        );
        assert.deepEqual(await storage.listFrom(prefix, '2026-11-25/d'), under(names.slice(6)));
        assert.deepEqual(await storage.listFrom(prefix, '2026-11-26'), under(names.slice(7)));
        assert.deepEqual(await storage.listFrom(prefix, 'u'), []);
        assert.deepEqual(await storage.listFrom(at('no', 'such', 'prefix'), '2026'), []);
      });

      void it('deletes objects and folders, and deleting nothing is not an error', async () => {
        const dir = at('delete');
        await storage.write(joinUri(dir, 'x', 'y.json'), 'y');
        await storage.write(joinUri(dir, 'x', 'deeper', 'z.json'), 'z');
        await storage.write(joinUri(dir, 'x-kept.json'), 'kept');
        await storage.write(joinUri(dir, 'single.json'), 's');
        await storage.delete(joinUri(dir, 'single.json'));
        assert.equal(await storage.exists(joinUri(dir, 'single.json')), false);
        await storage.delete(joinUri(dir, 'x'));
        assert.deepEqual(await storage.list(dir), [joinUri(dir, 'x-kept.json')]);
        await storage.delete(joinUri(dir, 'never-was'));
      });
    });

    void describe('compare-and-swap', () => {
      void it('reads an absent object as undefined, and a generation that changes with each write', async () => {
        const uri = at('versioned', 'x.json');
        assert.equal(await storage.readVersioned(uri), undefined);
        await storage.write(uri, 'one');
        const first = await storage.readVersioned(uri);
        assert.equal(first?.data.toString('utf8'), 'one');
        assert.deepEqual(await storage.readVersioned(uri), first, 'no write, same generation');
        await storage.write(uri, 'two');
        assert.notEqual((await storage.readVersioned(uri))?.generation, first?.generation);
      });

      void it('writes at the current generation and refuses a stale one, keeping the newer content', async () => {
        const uri = at('cas', 'x.json');
        await storage.write(uri, 'v1');
        const v1 = (await storage.readVersioned(uri))!;
        assert.equal(await storage.writeIfGeneration(uri, 'v2', v1.generation), true);
        assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
        // A writer that read v1 before that write lost the race.
        assert.equal(await storage.writeIfGeneration(uri, 'v2-from-stale-reader', v1.generation), false);
        assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
        assert.equal(await storage.writeIfGeneration(uri, 'v3', null), false, 'null means create-only');
        assert.equal(await storage.writeIfGeneration(uri, 'v3', 'not-a-generation-of-this-store'), false);
        assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
        assert.deepEqual(await backend.everything(at('cas')), [uri], 'no lock or temporary object left');
      });

      void it('creates with a null generation only while the object is absent', async () => {
        const uri = at('create-only', 'claim.json');
        const won = await Promise.all(
          Array.from({ length: 8 }, (_, i) => storage.writeIfGeneration(uri, `writer ${i}`, null)),
        );
        assert.equal(won.filter(Boolean).length, 1);
        assert.equal((await storage.read(uri)).toString('utf8'), `writer ${won.indexOf(true)}`);
        const absent = at('create-only', 'absent.json');
        const elsewhere = at('create-only', 'elsewhere.json');
        await storage.write(elsewhere, 'x');
        const someGeneration = (await storage.readVersioned(elsewhere))!.generation;
        assert.equal(
          await storage.writeIfGeneration(absent, 'x', someGeneration),
          false,
          'an expected generation of an object that does not exist is a conflict',
        );
        assert.equal(await storage.exists(absent), false);
      });

      void it('lets exactly one of many writers holding the same generation win', async () => {
        const uri = at('same-generation', 'x.json');
        await storage.write(uri, 'base');
        const base = (await storage.readVersioned(uri))!;
        const won = await Promise.all(
          Array.from({ length: 8 }, (_, i) => storage.writeIfGeneration(uri, `writer ${i}`, base.generation)),
        );
        assert.equal(won.filter(Boolean).length, 1);
        assert.equal((await storage.read(uri)).toString('utf8'), `writer ${won.indexOf(true)}`);
      });

      void it('updateJson creates, updates, and skips the write when nothing changes', async () => {
        const uri = at('update', 'counter.json');
        assert.deepEqual(await updateJson(uri, increment), { count: 1 });
        assert.deepEqual(await updateJson(uri, increment), { count: 2 });
        const before = await backend.writeStamp(uri);
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual(await updateJson<Counter>(uri, (current) => current!), { count: 2 });
        assert.equal(await backend.writeStamp(uri), before, 'an unchanged value is not rewritten');
      });

      void it('updateJson lets an error thrown by the update through unchanged, writing nothing', async () => {
        const uri = at('abort', 'counter.json');
        await updateJson(uri, increment);
        const refusal = new RangeError('no more than one');
        await assert.rejects(
          updateJson<Counter>(uri, () => {
            throw refusal;
          }),
          (err: unknown) => err === refusal,
        );
        assert.deepEqual(await readJsonIfExists(uri), { count: 1 });
      });

      void it('updateJson gives up with a clear error after maxAttempts lost rounds', async () => {
        const uri = at('contended', 'counter.json');
        await updateJson(uri, increment);
        let rounds = 0;
        await assert.rejects(
          // Every round, another writer gets in between this update's read and its write.
          updateJson<Counter>(
            uri,
            (current) => {
              rounds += 1;
              // Written synchronously: the real write must see a newer generation than it read.
              backend.overwriteSync(uri, JSON.stringify({ count: 100 + rounds }));
              return increment(current);
            },
            { maxAttempts: 3 },
          ),
          /could not update .*counter\.json: 3 attempts in a row lost to concurrent writers/,
        );
        assert.equal(rounds, 3);
        assert.deepEqual(await readJsonIfExists(uri), { count: 103 }, 'the other writer kept its value');
      });

      void it('updateJson loses none of 20 concurrent increments in one process', async () => {
        const uri = at('in-process', 'counter.json');
        await Promise.all(Array.from({ length: 20 }, () => updateJson(uri, increment)));
        assert.deepEqual(await readJsonIfExists(uri), { count: 20 });
        assert.deepEqual(await backend.everything(at('in-process')), [uri]);
      });

      void it('updateJson loses none of 40 increments from 4 processes at once', async () => {
        const uri = at('processes', 'counter.json');
        const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-cas-processes-'));
        try {
          const script = path.join(scratch, 'increment.ts');
          const barrier = { dir: path.join(scratch, 'barrier'), processes: 4 };
          await fs.mkdir(barrier.dir);
          // Each child checks in and waits for the others, so the increments really overlap
          // instead of running one process after another as the children happen to start.
          await fs.writeFile(
            script,
            [
              `import fs from 'node:fs/promises';`,
              `import { updateJson } from ${JSON.stringify(path.join(REPO, 'lib', 'storage'))};`,
              'const [uri, times, barrier, processes] = process.argv.slice(2) as [string, string, string, string];',
              'const increment = (current: { count: number } | undefined) => ({ count: (current?.count ?? 0) + 1 });',
              'async function main() {',
              '  await fs.writeFile(`${barrier}/${process.pid}`, "");',
              '  while ((await fs.readdir(barrier)).length < Number(processes)) await new Promise((r) => setTimeout(r, 5));',
              '  await Promise.all(Array.from({ length: Number(times) }, () => updateJson(uri, increment)));',
              '}',
              'main().catch((err: unknown) => {',
              '  console.error(err);',
              '  process.exit(1);',
              '});',
            ].join('\n'),
          );
          await Promise.all(
            Array.from({ length: barrier.processes }, () => incrementInChild(script, uri, 10, barrier)),
          );
          assert.deepEqual(await readJsonIfExists(uri), { count: 40 });
          assert.deepEqual(await backend.everything(at('processes')), [uri]);
        } finally {
          await fs.rm(scratch, { recursive: true, force: true });
        }
      });
    });
  });
}

void describe('storage on local disk only', () => {
  let root: string;
  const storage = new LocalStorage();
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-storage-local-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('lists no temporary file or lock as an object', async () => {
    const prefix = path.join(root, 'listing');
    await storage.write(path.join(prefix, 'a.json'), 'a');
    await storage.write(path.join(prefix, 'b.json'), 'b');
    // What a crashed writer leaves: it must not look like an object.
    await fs.writeFile(path.join(prefix, 'a.json.0d9c3f.tmp'), 'partial');
    // ... and what a writer holds while it compares and swaps.
    await fs.writeFile(path.join(prefix, 'b.json.lock'), 'held');
    assert.deepEqual(await storage.list(prefix), [path.join(prefix, 'a.json'), path.join(prefix, 'b.json')]);
    assert.deepEqual(await storage.list(pathToFileURL(prefix).href), await storage.list(prefix));
  });

  void it('listFrom lists no temporary file or lock, and opens no folder that sorts before the offset', async () => {
    const prefix = path.join(root, 'listing-from');
    for (let day = 1; day <= 9; day++)
      await storage.write(path.join(prefix, `2026-01-0${day}`, '00-a.jsonl'), 'x');
    await fs.writeFile(path.join(prefix, '2026-01-08', '01-a.jsonl.0d9c3f.tmp'), 'partial');
    await fs.writeFile(path.join(prefix, '2026-01-09', '00-a.jsonl.lock'), 'held');
    const readdir = mock.method(fs, 'readdir');
    try {
      assert.deepEqual(await storage.listFrom(pathToFileURL(prefix).href, '2026-01-08/00-b'), [
        path.join(prefix, '2026-01-09', '00-a.jsonl'),
      ]);
      const opened = readdir.mock.calls.map((call) => path.relative(prefix, String(call.arguments[0])));
      assert.deepEqual(opened.sort(), ['', '2026-01-08', '2026-01-09']);
    } finally {
      readdir.mock.restore();
    }
  });

  void it('reads and writes file:// URIs as the same files as plain paths', async () => {
    const file = path.join(root, 'file-uri', 'x.txt');
    await storage.write(pathToFileURL(file).href, 'via url');
    assert.equal(await fs.readFile(file, 'utf8'), 'via url');
    assert.equal(await storage.exists(pathToFileURL(file).href), true);
    await storage.delete(pathToFileURL(file).href);
    assert.equal(await storage.exists(file), false);
  });

  void it('waits for a lock another writer holds', async () => {
    const uri = path.join(root, 'held', 'x.json');
    await storage.write(uri, 'v1');
    const v1 = (await storage.readVersioned(uri))!;
    await fs.writeFile(`${toLocalPath(uri)}.lock`, 'another writer');
    let finished = false;
    const writing = storage.writeIfGeneration(uri, 'v2', v1.generation).then((won) => {
      finished = true;
      return won;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(finished, false, 'wrote while the lock was held');
    await fs.rm(`${toLocalPath(uri)}.lock`);
    assert.equal(await writing, true);
    assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
  });

  void it('breaks a lock left by a crashed process after 30 s', async () => {
    const uri = path.join(root, 'stale', 'x.json');
    await storage.write(uri, 'v1');
    const v1 = (await storage.readVersioned(uri))!;
    const lock = `${toLocalPath(uri)}.lock`;
    await fs.writeFile(lock, 'crashed writer');
    const longAgo = new Date(Date.now() - 31_000);
    await fs.utimes(lock, longAgo, longAgo);
    const started = Date.now();
    assert.equal(await storage.writeIfGeneration(uri, 'v2', v1.generation), true);
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
    assert.deepEqual(await fs.readdir(path.join(root, 'stale')), ['x.json']);
  });
});

void describe('storage on GCS only', () => {
  let gcs: GcsEmulatorHandle;
  const storage = new GcsStorage();
  before(async () => {
    gcs = await startGcsEmulator({ bucket: 'mlops-gcs-only' });
  });
  after(async () => {
    await gcs.close();
  });

  void it('uses the object generation GCS reports as the generation token', async () => {
    const uri = gcs.uri('generation/x.json');
    await storage.write(uri, 'one');
    const [metadata] = await createGcsClient().bucket(gcs.bucket).file('generation/x.json').getMetadata();
    assert.equal((await storage.readVersioned(uri))?.generation, String(metadata.generation));
    assert.match(String(metadata.generation), /^\d+$/);
  });

  void it('has the emulator itself refuse an upload whose ifGenerationMatch is stale (HTTP 412)', async () => {
    // Straight through the library, not GcsStorage: proves the precondition is enforced server-side.
    const file = createGcsClient().bucket(gcs.bucket).file('precondition/x.json');
    await file.save('v1', { resumable: false });
    const [metadata] = await file.getMetadata();
    await file.save('v2', { resumable: false });
    await assert.rejects(
      file.save('stale', { resumable: false, preconditionOpts: { ifGenerationMatch: metadata.generation! } }),
      (err: unknown) => (err as { code?: unknown }).code === 412,
    );
    await assert.rejects(
      file.save('exists', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
      (err: unknown) => (err as { code?: unknown }).code === 412,
    );
    assert.equal((await file.download())[0].toString('utf8'), 'v2');
  });

  void it('streams one whole version of an object that is replaced while it is read', async () => {
    const uri = gcs.uri('replaced/big.bin');
    const size = 4 * 1024 * 1024;
    await storage.write(uri, Buffer.alloc(size, 'a'));
    const chunks: Buffer[] = [];
    let replaced = false;
    for await (const chunk of await storage.createReadStream(uri)) {
      chunks.push(chunk as Buffer);
      if (!replaced) {
        replaced = true;
        await storage.write(uri, Buffer.alloc(size, 'b'));
      }
    }
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, size);
    assert.ok(bytes.equals(Buffer.alloc(size, 'a')), 'the version the read began with');
    assert.ok((await storage.read(uri)).equals(Buffer.alloc(size, 'b')));
  });

  void it('names a missing bucket in the error instead of answering "not found" for a listing', async () => {
    await assert.rejects(
      storage.list('gs://no-such-bucket-here/x'),
      /GCS bucket no-such-bucket-here does not exist/,
    );
    await assert.rejects(
      storage.write('gs://no-such-bucket-here/x.json', '{}'),
      /GCS bucket no-such-bucket-here does not exist \(gs:\/\/no-such-bucket-here\/x\.json\)/,
    );
    await assert.rejects(storage.read('gs://no-such-bucket-here/x.json'), NotFoundError);
  });
});

void describe('storage URIs', () => {
  void it('tells local paths and file:// from gs://, and serves each', () => {
    assert.equal(schemeOf('/tmp/store'), 'file');
    assert.equal(schemeOf('relative/store'), 'file');
    assert.equal(schemeOf('file:///tmp/store'), 'file');
    assert.equal(schemeOf('gs://bucket/store'), 'gs');
    assert.ok(storageFor('/tmp/x') instanceof LocalStorage);
    assert.ok(storageFor('gs://bucket/x') instanceof GcsStorage);
    assert.equal(storageFor('gs://a/x'), storageFor('gs://b/y'), 'one client for every bucket');
  });

  void it('joins local paths and file:// URIs into absolute local paths', () => {
    assert.equal(joinUri('/tmp/store', 'runs', 'w1', 'ingest'), '/tmp/store/runs/w1/ingest');
    assert.equal(joinUri('/tmp/store/', '/runs/', 'x.json'), '/tmp/store/runs/x.json');
    assert.equal(joinUri('relative', 'x.json'), path.resolve('relative', 'x.json'));
    assert.equal(joinUri('file:///tmp/store', 'runs', 'x.json'), '/tmp/store/runs/x.json');
    assert.equal(joinUri('file:///tmp/with%20space', 'x.json'), '/tmp/with space/x.json');
    assert.equal(toLocalPath('file:///tmp/store/x.json'), '/tmp/store/x.json');
    assert.equal(toLocalPath('store/x.json'), path.resolve('store/x.json'));
    assert.throws(
      () => toLocalPath('gs://bucket/x.json'),
      /gs:\/\/bucket\/x\.json is a GCS object, not a local path/,
    );
  });

  void it('joins gs:// URIs with single slashes, keeping the scheme and bucket', () => {
    assert.equal(joinUri('gs://bucket', 'runs', 'x.json'), 'gs://bucket/runs/x.json');
    assert.equal(joinUri('gs://bucket/', 'runs', 'x.json'), 'gs://bucket/runs/x.json');
    assert.equal(joinUri('gs://bucket/store/', '/runs/', '/x.json'), 'gs://bucket/store/runs/x.json');
    assert.equal(joinUri('gs://bucket/store', 'a/b', 'c.json'), 'gs://bucket/store/a/b/c.json');
    assert.equal(joinUri('gs://bucket/store', '', 'c.json'), 'gs://bucket/store/c.json');
    assert.equal(joinUri('gs://bucket/store/runs', '..', 'c.json'), 'gs://bucket/store/c.json');
    assert.equal(joinUri('gs://bucket/store', './c.json'), 'gs://bucket/store/c.json');
    assert.equal(joinUri('gs://bucket'), 'gs://bucket');
  });

  void it('splits gs:// URIs into bucket and object name', () => {
    assert.deepEqual(parseGsUri('gs://bucket/a/b.json'), { bucket: 'bucket', name: 'a/b.json' });
    assert.deepEqual(parseGsUri('gs://bucket'), { bucket: 'bucket', name: '' });
    assert.deepEqual(parseGsUri('gs://bucket/'), { bucket: 'bucket', name: '' });
    assert.throws(() => parseGsUri('gs://'), /gs:\/\/ is not a gs:\/\/bucket\/object URI/);
  });

  void it('reads STORAGE_EMULATOR_HOST in the forms other GCS clients accept', () => {
    assert.equal(emulatorOrigin('localhost:4443'), 'http://localhost:4443');
    assert.equal(emulatorOrigin('http://127.0.0.1:4443/'), 'http://127.0.0.1:4443');
    assert.equal(emulatorOrigin('http://127.0.0.1:4443/storage/v1'), 'http://127.0.0.1:4443');
    assert.equal(emulatorOrigin('https://gcs.test:8443/storage/v1/'), 'https://gcs.test:8443');
  });

  void it('resolves an image reference against the dataset folder it came from', () => {
    assert.equal(resolveUri('/data/ads', 'images/a.png'), '/data/ads/images/a.png');
    assert.equal(resolveUri('/data/ads', '../shared/a.png'), '/data/shared/a.png');
    assert.equal(resolveUri('file:///data/ads', 'images/a.png'), '/data/ads/images/a.png');
    assert.equal(resolveUri('gs://bucket/ads', 'images/a.png'), 'gs://bucket/ads/images/a.png');
    assert.equal(resolveUri('gs://bucket/ads', '../shared/a.png'), 'gs://bucket/shared/a.png');
    // Absolute references are taken as they are, whatever the dataset's own location.
    assert.equal(resolveUri('/data/ads', '/elsewhere/a.png'), '/elsewhere/a.png');
    assert.equal(resolveUri('/data/ads', 'gs://other/a.png'), 'gs://other/a.png');
    assert.equal(resolveUri('gs://bucket/ads', 'file:///local/a.png'), 'file:///local/a.png');
  });
});
