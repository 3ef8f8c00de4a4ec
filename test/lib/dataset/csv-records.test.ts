import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferChunks, readCsvItems, type CsvItem } from '../../../lib/dataset/csv-records';

async function items(bytes: Buffer, options: Parameters<typeof readCsvItems>[1] = {}, chunk = 5) {
  const all: CsvItem[] = [];
  for await (const item of readCsvItems(bufferChunks(bytes, chunk), options)) all.push(item);
  return all;
}

const summary = (all: CsvItem[]) =>
  all.map((item) => (item.kind === 'record' ? `${item.line}:${item.fields.join('|')}` : `${item.line}:BAD`));

describe('readCsvItems', () => {
  it('numbers records by file line and ends them at the byte after their line end', async () => {
    const bytes = Buffer.from('\ufeffa,b\r\n1,2\r\n\r\n3,"x,y"\r\n4,5');
    const all = await items(bytes);
    assert.deepEqual(summary(all), ['1:a|b', '2:1|2', '4:3|x,y', '5:4|5']);
    const ends = all.map((item) => (item.kind === 'record' ? item.endByte : -1));
    // The BOM's three bytes count: offsets are the file's.
    assert.deepEqual(ends, [8, 13, 24, 27]);
    assert.equal(bytes.subarray(ends[1], ends[2]).toString(), '\r\n3,"x,y"\r\n');
  });

  it('reads the same records from any record boundary as from the start of the file', async () => {
    const bytes = Buffer.from('h1,h2\n1,2\n3,x"y\n\n5,"6\n7"\n8,9\n10,"11\n12,13\n');
    const whole = await items(bytes);
    for (const item of whole) {
      if (item.kind !== 'record') continue;
      const tail = await items(
        bytes.subarray(item.endByte),
        { byteOffset: item.endByte, lineOffset: item.line },
        3,
      );
      const expected = whole.slice(whole.indexOf(item) + 1);
      assert.deepEqual(tail, expected, `from byte ${item.endByte}`);
    }
  });

  it('reports every line an unreadable record swallowed, in place, with the file line numbers', async () => {
    const bytes = Buffer.from('a,b\n1,2\n3,x"y\n4,"5\n6,7\n');
    const all = await items(bytes.subarray(4), { byteOffset: 4, lineOffset: 1 });
    assert.deepEqual(summary(all), ['2:1|2', '3:BAD', '4:BAD', '5:BAD']);
    const [, stray, unclosed] = all;
    assert.match((stray as { reason: string }).reason, /^malformed CSV: Invalid Opening Quote/);
    assert.doesNotMatch(
      (stray as { reason: string }).reason,
      /at line/,
      'csv-parse line numbers are relative',
    );
    assert.match(
      (unclosed as { reason: string }).reason,
      /Quote Not Closed.*\(lines 4-5 were read as one record\)/,
    );
  });
});
