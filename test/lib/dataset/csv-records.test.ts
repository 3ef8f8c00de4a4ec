import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseSync } from 'csv-parse/sync';
import { bufferChunks, readCsvItems, type CsvItem } from '../../../lib/dataset/csv-records';
import { createRandom } from '../../../lib/dataset/random';

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

/** What csv-parse alone reads from the whole of `bytes`: records with their file line and end byte. */
function csvParseRecords(bytes: Buffer, delimiter: string) {
  const parsed = parseSync(bytes, {
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
    skip_records_with_error: true,
    info: true,
  }) as unknown as Array<{ record: string[]; info: { lines: number; bytes: number } }>;
  return parsed.map(({ record, info }) => ({ fields: record, line: info.lines, endByte: info.bytes }));
}

describe('readCsvItems without csv-parse where the bytes hold no quote', () => {
  // Pieces of CSV text that meet every case the quote-free reading must match csv-parse on: line
  // ends of both kinds and mixed, empty lines, a byte order mark, multi-byte and invalid UTF-8,
  // blanks and whitespace, and now and then a quoted field, after which csv-parse reads.
  const pieces = ['a', 'b7', ';', ',', ',', ' ', '\t', 'é', '日本', '\n', '\n', '\n', '\r\n', '\r'];
  const quoted = ['"x,y"', '"a""b"', '"multi\nline"', 'x"y'];

  it('reads every record csv-parse reads, with the same fields, line and end byte, over random files', async () => {
    const random = createRandom(41);
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
    let compared = 0;
    for (let file = 0; file < 400; file++) {
      const delimiter = random() < 0.7 ? ',' : ';';
      const crlf = random() < 0.3;
      const parts: Buffer[] = random() < 0.15 ? [Buffer.from('\ufeff')] : [];
      const length = 1 + Math.floor(random() * 60);
      for (let i = 0; i < length; i++) {
        let piece = pick(pieces);
        // Mostly one kind of line end per file, as real files are; sometimes mixed.
        if (piece === '\n' && crlf && random() < 0.95) piece = '\r\n';
        if (piece === '\r\n' && !crlf && random() < 0.9) piece = '\n';
        if (piece === '\r' && random() < 0.9) piece = crlf ? '\r\n' : '\n';
        if (random() < 0.01) piece = pick(quoted);
        parts.push(random() < 0.02 ? Buffer.from([0xff, 0xc3]) : Buffer.from(piece));
      }
      const bytes = Buffer.concat(parts);
      const chunk = 1 + Math.floor(random() * 40);
      const records = (await items(bytes, { delimiter }, chunk)).filter((item) => item.kind === 'record');
      const expected = csvParseRecords(bytes, delimiter);
      assert.deepEqual(
        records.map(({ fields, line, endByte }) => ({ fields, line, endByte })),
        expected,
        `file ${file} in chunks of ${chunk}: ${JSON.stringify(bytes.toString('latin1'))}`,
      );
      compared += expected.length;
    }
    assert.ok(compared > 2000, `compared ${compared} records`);
  });

  it('hands the rest to csv-parse from the record boundary before the first quote', async () => {
    const quoteFree = Array.from({ length: 50 }, (_, i) => `${i},v${i}`).join('\n');
    const bytes = Buffer.from(`${quoteFree}\n50,"a\nb"\n51,x"y\n52,z\n`);
    const all = await items(bytes, {}, 64);
    assert.deepEqual(summary(all).slice(49), ['50:49|v49', '52:50|a\nb', '53:BAD', '54:52|z']);
  });
});
