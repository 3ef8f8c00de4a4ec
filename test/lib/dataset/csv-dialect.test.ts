import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { looksNumeric, sniffDialect } from '../../../lib/dataset/csv-dialect';

void describe('sniffDialect', () => {
  void it('finds the delimiter that splits every line alike, even with that character quoted inside fields', () => {
    const semicolons = 'id;note;y\n1;"a, b, c";0\n2;"d, e";1\n3;f;0\n';
    const sniffed = sniffDialect(semicolons);
    assert.equal(sniffed.delimiter, ';');
    assert.equal(sniffed.header, true);
    assert.deepEqual(sniffed.firstRow, ['id', 'note', 'y']);
    assert.equal(sniffDialect('a\tb\tc\n1\t2\t3\n4\t5\t6\n').delimiter, '\t');
    assert.equal(sniffDialect('a|b\n1|2\n').delimiter, '|');
  });

  void it('reads a header from names over numbers, and data from numbers or repeated values in the first line', () => {
    assert.equal(sniffDialect('age,city,y\n31,Oslo,1\n45,Lima,0\n').header, true);
    assert.equal(sniffDialect('31, Oslo,1\n45, Lima,0\n52, Oslo,1\n').header, false);
    // All text: the first line's values come back below, so it is data.
    assert.equal(sniffDialect('red,small\nblue,large\nred,large\n').header, false);
    // All text with distinct names that never recur: a header.
    assert.equal(sniffDialect('colour,size\nred,small\nblue,large\n').header, true);
  });

  void it('ignores a line cut off at the end of the sample', () => {
    const sample = `a,b,c\n${'1,2,3\n'.repeat(10)}4,5`;
    const sniffed = sniffDialect(sample);
    assert.equal(sniffed.delimiter, ',');
    assert.match(sniffed.reasons[0]!, /100% of the first 11 lines have 3 fields/);
  });

  void it('refuses text that no delimiter splits', () => {
    assert.throws(
      () => sniffDialect('just one column\nof words\n'),
      /no delimiter .* splits the lines into two or more fields: is this a CSV\?/,
    );
    assert.throws(
      () => sniffDialect('a,b\n1,2\n', { delimiter: ';' }),
      /no line splits into two or more fields at ";"/,
    );
  });

  void it('looksNumeric takes decimals and exponents, not codes or blanks', () => {
    for (const value of ['0', '-1', '3.25', ' 42 ', '1e5', '.5']) assert.ok(looksNumeric(value), value);
    for (const value of ['', '1fbe01fe', '1,5', 'NaN', '12abc', '--1'])
      assert.ok(!looksNumeric(value), value);
  });
});
