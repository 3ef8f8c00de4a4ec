import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStorage } from '../../lib/storage/local-storage';
import { NotFoundError, joinUri, resolveUri, schemeOf, storageFor, toLocalPath } from '../../lib/storage';

let root: string;
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
