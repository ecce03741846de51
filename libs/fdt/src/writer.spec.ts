import { describe, expect, it } from 'vitest';
import { FdtError, node, prop, Phandles } from './tree.js';
import { FDT_NOP, writeFdt } from './writer.js';
import { findNode, getProp, propCells, propStrings, readFdt, readFdtHeader } from './reader.js';

const be = (...words: number[]) => {
  const b = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(b.buffer).setUint32(i * 4, w));
  return b;
};
const ascii = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

// / { a = <1>; n@1 { a = <2>; bc = "x"; }; };
const tiny = node('', [prop.u32('a', 1)], [node('n@1', [prop.u32('a', 2), prop.string('bc', 'x')])]);

describe('DTB writer (devicetree spec v0.4 chapter 5)', () => {
  it('writes a tiny tree byte for byte', () => {
    const struct = be(
      1,
      0, // FDT_BEGIN_NODE "" (padded)
      3,
      4,
      0,
      1, // FDT_PROP len 4, nameoff 0 ("a"), <1>
      1,
      0x6e403100, // FDT_BEGIN_NODE "n@1\0"
      3,
      4,
      0,
      2, // FDT_PROP "a" again: the same nameoff
      3,
      2,
      2,
      0x78000000, // FDT_PROP len 2, nameoff 2 ("bc"), "x\0" + 2 bytes of padding
      2,
      2,
      9, // END_NODE, END_NODE, END
    );
    const strings = ascii('a\0bc\0');
    const header = be(0xd00dfeed, 137, 56, 132, 40, 17, 16, 0, 5, 76);
    const rsvmap = new Uint8Array(16); // only the terminating entry
    expect(struct.length).toBe(76);
    expect(writeFdt(tiny)).toEqual(cat(header, rsvmap, struct, strings));
  });

  it('fills the header: sizes, aligned offsets, versions 17/16, boot_cpuid_phys', () => {
    const blob = writeFdt(tiny, { bootCpuidPhys: 3 });
    const h = readFdtHeader(blob);
    expect(h).toMatchObject({ magic: 0xd00dfeed, totalSize: blob.length, version: 17, lastCompVersion: 16, bootCpuidPhys: 3 });
    expect(h.offMemRsvmap % 8).toBe(0);
    expect(h.offDtStruct % 4).toBe(0);
    expect(h.offDtStruct + h.sizeDtStruct).toBe(h.offDtStrings);
    expect(h.offDtStrings + h.sizeDtStrings).toBe(h.totalSize);
  });

  it('keeps each property name once in the strings block', () => {
    const many = node(
      '',
      [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2)],
      [node('x@1', [prop.string('compatible', 'a'), prop.u32('#address-cells', 1)]), node('x@2', [prop.string('compatible', 'b'), prop.u32('#size-cells', 0)])],
    );
    const blob = writeFdt(many);
    const h = readFdtHeader(blob);
    const strings = new TextDecoder().decode(blob.subarray(h.offDtStrings, h.offDtStrings + h.sizeDtStrings));
    expect(strings).toBe('#address-cells\0#size-cells\0compatible\0');
  });

  it('writes memory reservation entries before the terminator', () => {
    const blob = writeFdt(tiny, { memReserve: [{ address: 0x80000000n, size: 0x200000n }] });
    const parsed = readFdt(blob);
    expect(parsed.memReserve).toEqual([{ address: 0x80000000n, size: 0x200000n }]);
    expect(parsed.header.offDtStruct).toBe(40 + 32);
  });

  it('encodes each value type as the spec says and reads it back', () => {
    const ph = new Phandles();
    const p1 = ph.next();
    const t = node(
      '',
      [],
      [
        node('a', [
          prop.phandle(p1),
          prop.u32('cells', 1, 0xffffffff),
          prop.u64('reg', 0x80000000, 0x1_0000_0000n),
          prop.string('s', 'hello'),
          prop.strings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']),
          prop.empty('ranges'),
          prop.ref('interrupt-parent', p1),
        ]),
      ],
    );
    const a = findNode(readFdt(writeFdt(t)).root, '/a')!;
    expect(p1).toBe(1);
    expect(propCells(getProp(a, 'phandle')!)).toEqual([1]);
    expect(propCells(getProp(a, 'cells')!)).toEqual([1, 0xffffffff]);
    expect(propCells(getProp(a, 'reg')!)).toEqual([0, 0x80000000, 1, 0]);
    expect(propStrings(getProp(a, 's')!)).toEqual(['hello']);
    expect(propStrings(getProp(a, 'compatible')!)).toEqual(['sifive,test1', 'sifive,test0', 'syscon']);
    expect(getProp(a, 'ranges')).toEqual(new Uint8Array(0));
    expect(propCells(getProp(a, 'interrupt-parent')!)).toEqual([1]);
  });

  it('reads past FDT_NOP tokens (§5.4.1), as a tree edited in place has them', () => {
    const blob = writeFdt(tiny);
    const h = readFdtHeader(blob);
    // Put a NOP in front of the child node: grow the struct block by one token.
    const at = h.offDtStruct + 6 * 4;
    const withNop = cat(blob.subarray(0, at), be(FDT_NOP), blob.subarray(at));
    const dv = new DataView(withNop.buffer);
    dv.setUint32(4, h.totalSize + 4);
    dv.setUint32(12, h.offDtStrings + 4);
    dv.setUint32(36, h.sizeDtStruct + 4);
    expect(readFdt(withNop).root).toEqual(readFdt(blob).root);
  });

  it('refuses what the spec forbids, naming the node', () => {
    expect(() => writeFdt(node('', [], [node('9lives')]))).toThrow(/\/9lives: "9lives" is not a valid node name/);
    expect(() => writeFdt(node('', [], [node('a-very-long-node-name-longer-than-31')]))).toThrow(/not a valid node name/);
    expect(() => writeFdt(node('', [], [node('x', [prop.u32('a', 1), prop.u32('a', 2)])]))).toThrow(/\/x: property "a" appears twice/);
    expect(() => writeFdt(node('', [], [node('x'), node('x')]))).toThrow(/\/x: two nodes have this path/);
    expect(() => writeFdt(node('', [prop.u32('bad name', 1)]))).toThrow(/"bad name" is not a valid property name/);
    expect(() => writeFdt(node('root'))).toThrow(/root node's name must be ""/);
    expect(() => prop.u32('x', -1)).toThrow(/x: -1 is not a u32/);
    expect(() => prop.string('x', 'a\0b')).toThrow(/may not contain NUL/);
  });

  it('the reader refuses a blob that is not a DTB', () => {
    expect(() => readFdt(new Uint8Array(8))).toThrow(/shorter than the 40-byte header/);
    expect(() => readFdt(new Uint8Array(64))).toThrow(/bad magic 0x0/);
    const blob = writeFdt(tiny);
    expect(() => readFdt(blob.subarray(0, blob.length - 1))).toThrow(/totalsize 137 exceeds the 136-byte blob/);
  });

  it('refuses bytes that are not UTF-8 with an FdtError naming where, not a TypeError (found by fuzzing)', () => {
    const blob = writeFdt(node('', [prop.string('model', 'ab')], [node('cd')]));
    const at = blob.indexOf(0x63); // the "c" of the node name "cd"
    const badName = blob.slice();
    badName[at] = 0xff;
    expect(() => readFdt(badName)).toThrow(FdtError);
    expect(() => readFdt(badName)).toThrow(/node name at \d+ is not valid UTF-8/);
    expect(() => propStrings(Uint8Array.of(0x61, 0xc3, 0))).toThrow(FdtError);
    expect(() => propStrings(Uint8Array.of(0x61, 0xc3, 0))).toThrow(/string value is not valid UTF-8/);
  });
});
