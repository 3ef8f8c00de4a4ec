import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStorage } from '../../lib/storage/local-storage';
import {
  NotFoundError,
  joinUri,
  readJsonIfExists,
  resolveUri,
  schemeOf,
  storageFor,
  toLocalPath,
  updateJson,
} from '../../lib/storage';

const REPO = path.resolve(__dirname, '..', '..');

let root: string;
let casRoot: string;
const storage = new LocalStorage();

/** Every file under a folder, temporary ones included (unlike storage.list). */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

void describe('LocalStorage', () => {
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-storage-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('writes into folders it creates, replaces content, and leaves no temporary file behind', async () => {
    const uri = path.join(root, 'write', 'a', 'b', 'object.json');
    await storage.write(uri, '{"v":1}');
    assert.equal((await storage.read(uri)).toString('utf8'), '{"v":1}');
    await storage.write(uri, Buffer.from('{"v":2}'));
    assert.equal((await storage.read(uri)).toString('utf8'), '{"v":2}');
    assert.deepEqual(await allFiles(path.join(root, 'write')), [uri]);
  });

  void it('never lets a reader see a partly written object', async () => {
    const uri = path.join(root, 'atomic', 'blob.bin');
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
    assert.deepEqual(await allFiles(path.join(root, 'atomic')), [uri]);
  });

  void it('writeIfAbsent creates once, returns false afterwards and keeps the first content', async () => {
    const uri = path.join(root, 'exclusive', 'claim.json');
    assert.equal(await storage.writeIfAbsent(uri, 'first'), true);
    assert.equal(await storage.writeIfAbsent(uri, 'second'), false);
    assert.equal((await storage.read(uri)).toString('utf8'), 'first');
    assert.deepEqual(await allFiles(path.join(root, 'exclusive')), [uri]);
  });

  void it('writeIfAbsent lets exactly one of many concurrent writers win, with its whole content', async () => {
    const uri = path.join(root, 'race', 'claim.bin');
    const contents = Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024, 65 + i));
    const won = await Promise.all(contents.map((content) => storage.writeIfAbsent(uri, content)));
    assert.equal(won.filter(Boolean).length, 1);
    const winner = contents[won.indexOf(true)]!;
    assert.ok((await storage.read(uri)).equals(winner));
    assert.deepEqual(await allFiles(path.join(root, 'race')), [uri]);
  });

  void it('throws NotFoundError carrying the uri when reading or streaming a missing object', async () => {
    const uri = path.join(root, 'missing', 'nothing.json');
    await assert.rejects(storage.read(uri), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.uri, uri);
      assert.match(err.message, new RegExp(`not found: ${uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      return true;
    });
    await assert.rejects(
      storage.createReadStream(uri),
      (err: unknown) => err instanceof NotFoundError && err.uri === uri,
    );
    assert.equal(await storage.exists(uri), false);
  });

  void it('lists every object under a prefix, sorted and recursive, skipping temporary files', async () => {
    const prefix = path.join(root, 'listing');
    await storage.write(path.join(prefix, 'b.json'), 'b');
    await storage.write(path.join(prefix, 'a.json'), 'a');
    await storage.write(path.join(prefix, 'sub', 'c.json'), 'c');
    // What a crashed writer leaves: it must not look like an object.
    await fs.writeFile(path.join(prefix, 'a.json.0d9c3f.tmp'), 'partial');
    // ... and what a writer holds while it compares and swaps.
    await fs.writeFile(path.join(prefix, 'b.json.lock'), 'held');
    assert.deepEqual(await storage.list(prefix), [
      path.join(prefix, 'a.json'),
      path.join(prefix, 'b.json'),
      path.join(prefix, 'sub', 'c.json'),
    ]);
    assert.deepEqual(await storage.list(pathToFileURL(prefix).href), await storage.list(prefix));
  });

  void it('lists a missing prefix as empty', async () => {
    assert.deepEqual(await storage.list(path.join(root, 'no', 'such', 'prefix')), []);
  });

  void it('reads and writes file:// URIs as the same files as plain paths', async () => {
    const file = path.join(root, 'file-uri', 'x.txt');
    await storage.write(pathToFileURL(file).href, 'via url');
    assert.equal(await fs.readFile(file, 'utf8'), 'via url');
    assert.equal(await storage.exists(pathToFileURL(file).href), true);
    await storage.delete(pathToFileURL(file).href);
    assert.equal(await storage.exists(file), false);
  });

  void it('deletes objects and folders, and deleting nothing is not an error', async () => {
    const dir = path.join(root, 'delete');
    await storage.write(path.join(dir, 'x', 'y.json'), 'y');
    await storage.delete(path.join(dir, 'x'));
    assert.deepEqual(await storage.list(dir), []);
    await storage.delete(path.join(dir, 'never-was'));
  });
});

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

void describe('LocalStorage compare-and-swap', () => {
  before(async () => {
    casRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-cas-'));
  });
  after(async () => {
    await fs.rm(casRoot, { recursive: true, force: true });
  });

  void it('reads an absent object as undefined, and a generation that changes with the content', async () => {
    const uri = path.join(casRoot, 'versioned', 'x.json');
    assert.equal(await storage.readVersioned(uri), undefined);
    await storage.write(uri, 'one');
    const first = await storage.readVersioned(uri);
    assert.equal(first?.data.toString('utf8'), 'one');
    assert.deepEqual(await storage.readVersioned(uri), first, 'same content, same generation');
    await storage.write(uri, 'two');
    assert.notEqual((await storage.readVersioned(uri))?.generation, first?.generation);
  });

  void it('writes at the current generation and refuses a stale one, keeping the newer content', async () => {
    const uri = path.join(casRoot, 'cas', 'x.json');
    await storage.write(uri, 'v1');
    const v1 = (await storage.readVersioned(uri))!;
    assert.equal(await storage.writeIfGeneration(uri, 'v2', v1.generation), true);
    assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
    // A writer that read v1 before that write lost the race.
    assert.equal(await storage.writeIfGeneration(uri, 'v2-from-stale-reader', v1.generation), false);
    assert.equal((await storage.read(uri)).toString('utf8'), 'v2');
    assert.equal(await storage.writeIfGeneration(uri, 'v3', null), false, 'null means create-only');
    assert.deepEqual(await allFiles(path.join(casRoot, 'cas')), [uri], 'no lock or temporary file left');
  });

  void it('creates with a null generation only while the object is absent', async () => {
    const uri = path.join(casRoot, 'create-only', 'claim.json');
    const won = await Promise.all(
      Array.from({ length: 8 }, (_, i) => storage.writeIfGeneration(uri, `writer ${i}`, null)),
    );
    assert.equal(won.filter(Boolean).length, 1);
    assert.equal((await storage.read(uri)).toString('utf8'), `writer ${won.indexOf(true)}`);
    assert.equal(
      await storage.writeIfGeneration(
        path.join(casRoot, 'create-only', 'absent.json'),
        'x',
        'some-generation',
      ),
      false,
      'an expected generation of an object that does not exist is a conflict',
    );
    assert.deepEqual(await allFiles(path.join(casRoot, 'create-only')), [uri]);
  });

  void it('waits for a lock another writer holds', async () => {
    const uri = path.join(casRoot, 'held', 'x.json');
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
    const uri = path.join(casRoot, 'stale', 'x.json');
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
    assert.deepEqual(await allFiles(path.join(casRoot, 'stale')), [uri]);
  });

  void it('updateJson creates, updates, and skips the write when nothing changes', async () => {
    const uri = path.join(casRoot, 'update', 'counter.json');
    assert.deepEqual(await updateJson(uri, increment), { count: 1 });
    assert.deepEqual(await updateJson(uri, increment), { count: 2 });
    const before = await fs.stat(uri);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(await updateJson<Counter>(uri, (current) => current!), { count: 2 });
    assert.equal((await fs.stat(uri)).mtimeMs, before.mtimeMs, 'an unchanged value is not rewritten');
  });

  void it('updateJson lets an error thrown by the update through unchanged, writing nothing', async () => {
    const uri = path.join(casRoot, 'abort', 'counter.json');
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
    const uri = path.join(casRoot, 'contended', 'counter.json');
    await updateJson(uri, increment);
    let rounds = 0;
    await assert.rejects(
      // Every round, another writer gets in between this update's read and its write.
      updateJson<Counter>(
        uri,
        (current) => {
          rounds += 1;
          // Written synchronously: the real write must see a newer generation than it read.
          writeFileSync(uri, JSON.stringify({ count: 100 + rounds }));
          return increment(current);
        },
        { maxAttempts: 3 },
      ),
      /could not update .*counter\.json: 3 attempts in a row lost to concurrent writers/,
    );
    assert.equal(rounds, 3);
  });

  void it('updateJson loses none of 20 concurrent increments in one process', async () => {
    const uri = path.join(casRoot, 'in-process', 'counter.json');
    await Promise.all(Array.from({ length: 20 }, () => updateJson(uri, increment)));
    assert.deepEqual(await readJsonIfExists(uri), { count: 20 });
    assert.deepEqual(await allFiles(path.join(casRoot, 'in-process')), [uri]);
  });

  void it('updateJson loses none of 40 increments from 4 processes at once', async () => {
    const uri = path.join(casRoot, 'processes', 'counter.json');
    const script = path.join(casRoot, 'increment.ts');
    const barrier = { dir: path.join(casRoot, 'barrier'), processes: 4 };
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
    assert.deepEqual(await allFiles(path.join(casRoot, 'processes')), [uri]);
  });
});

void describe('storage URIs', () => {
  void it('tells local paths and file:// from gs://', () => {
    assert.equal(schemeOf('/tmp/store'), 'file');
    assert.equal(schemeOf('relative/store'), 'file');
    assert.equal(schemeOf('file:///tmp/store'), 'file');
    assert.equal(schemeOf('gs://bucket/store'), 'gs');
    assert.ok(storageFor('/tmp/x') instanceof LocalStorage);
    assert.throws(
      () => storageFor('gs://bucket/x'),
      /gs:\/\/ URIs are not supported yet \(gs:\/\/bucket\/x\)/,
    );
  });

  void it('joins local paths and file:// URIs into absolute local paths', () => {
    assert.equal(joinUri('/tmp/store', 'runs', 'w1', 'ingest'), '/tmp/store/runs/w1/ingest');
    assert.equal(joinUri('/tmp/store/', '/runs/', 'x.json'), '/tmp/store/runs/x.json');
    assert.equal(joinUri('relative', 'x.json'), path.resolve('relative', 'x.json'));
    assert.equal(joinUri('file:///tmp/store', 'runs', 'x.json'), '/tmp/store/runs/x.json');
    assert.equal(joinUri('file:///tmp/with%20space', 'x.json'), '/tmp/with space/x.json');
    assert.equal(toLocalPath('file:///tmp/store/x.json'), '/tmp/store/x.json');
    assert.equal(toLocalPath('store/x.json'), path.resolve('store/x.json'));
  });

  void it('joins gs:// URIs with single slashes, keeping the scheme and bucket', () => {
    assert.equal(joinUri('gs://bucket', 'runs', 'x.json'), 'gs://bucket/runs/x.json');
    assert.equal(joinUri('gs://bucket/store/', '/runs/', '/x.json'), 'gs://bucket/store/runs/x.json');
    assert.equal(joinUri('gs://bucket/store', 'a/b', 'c.json'), 'gs://bucket/store/a/b/c.json');
    assert.equal(joinUri('gs://bucket/store', '', 'c.json'), 'gs://bucket/store/c.json');
  });

  void it('resolves an image reference against the dataset folder it came from', () => {
    assert.equal(resolveUri('/data/ads', 'images/a.png'), '/data/ads/images/a.png');
    assert.equal(resolveUri('/data/ads', '../shared/a.png'), '/data/shared/a.png');
    assert.equal(resolveUri('file:///data/ads', 'images/a.png'), '/data/ads/images/a.png');
    assert.equal(resolveUri('gs://bucket/ads', 'images/a.png'), 'gs://bucket/ads/images/a.png');
    // Absolute references are taken as they are, whatever the dataset's own location.
    assert.equal(resolveUri('/data/ads', '/elsewhere/a.png'), '/elsewhere/a.png');
    assert.equal(resolveUri('/data/ads', 'gs://other/a.png'), 'gs://other/a.png');
    assert.equal(resolveUri('gs://bucket/ads', 'file:///local/a.png'), 'file:///local/a.png');
  });
});
