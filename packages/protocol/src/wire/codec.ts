/**
 * The few protobuf primitives the hand-written codecs share, on protobufjs's minimal runtime (its Reader and
 * Writer, what its static code generator emits). Same bytes as Go's runtime: fields in field-number order,
 * proto3 zero values left off the wire; unknown fields skipped on decode; a truncated message refused.
 */
import protobuf from 'protobufjs/minimal.js';

export const { Reader, Writer } = protobuf;
export type ReaderType = protobuf.Reader;
export type WriterType = protobuf.Writer;

/** Wire types of the tags the codecs write and read. */
export const VARINT = 0;
export const LENGTH_DELIMITED = 2;

export function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

/** A proto3 string: left off the wire when empty. */
export function writeString(writer: WriterType, field: number, value: string): void {
  if (value !== '') writer.uint32(tag(field, LENGTH_DELIMITED)).string(value);
}

/** A `map<string, string>`: one entry message per key, key and value always written (as protobufjs does). */
export function writeStringMap(
  writer: WriterType,
  field: number,
  map: Readonly<Record<string, string>> | null | undefined,
): void {
  if (map === null || map === undefined) return;
  for (const key of Object.keys(map)) {
    writer
      .uint32(tag(field, LENGTH_DELIMITED))
      .fork()
      .uint32(tag(1, LENGTH_DELIMITED))
      .string(key)
      .uint32(tag(2, LENGTH_DELIMITED))
      .string(map[key] ?? '')
      .ldelim();
  }
}

/** Reads a message of `length` bytes (or up to the end) field by field; unknown fields are skipped. */
export function readFields(
  reader: ReaderType,
  length: number | undefined,
  onField: (field: number, wireType: number) => boolean,
): void {
  const end = length === undefined ? reader.len : reader.pos + length;
  if (end > reader.len) throw new Error('protobuf message overruns its length');
  while (reader.pos < end) {
    const key = reader.uint32();
    const field = key >>> 3;
    const wireType = key & 7;
    if (field === 0) throw new Error('invalid protobuf field number 0');
    if (!onField(field, wireType)) reader.skipType(wireType);
  }
  if (reader.pos !== end) throw new Error('protobuf message overruns its length');
}

/** The length prefix of an embedded message, checked against the wire type. */
export function readLength(reader: ReaderType, wireType: number): number {
  if (wireType !== LENGTH_DELIMITED) throw new Error('protobuf message field with a wrong wire type');
  return reader.uint32();
}

/** A string field; one that overruns its message is refused (protobufjs's own `string()` would clip it). */
export function readString(reader: ReaderType, wireType: number): string {
  const length = readLength(reader, wireType);
  const start = reader.pos;
  if (start + length > reader.len) throw new Error('protobuf string overruns its message');
  reader.pos = start + length;
  return Buffer.from(reader.buf.buffer, reader.buf.byteOffset + start, length).toString('utf8');
}

/** One entry of a `map<string, string>` into `map` (a later key wins, as protobuf parsers do). */
export function readStringMapEntry(reader: ReaderType, wireType: number, map: Record<string, string>): void {
  let key = '';
  let value = '';
  readFields(reader, readLength(reader, wireType), (field, inner) => {
    if (field === 1) key = readString(reader, inner);
    else if (field === 2) value = readString(reader, inner);
    else return false;
    return true;
  });
  map[key] = value;
}

/** A proto3 enum, written as its number; a name is looked up in `names`. */
export function enumNumber(names: readonly string[], value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  const index = names.indexOf(value);
  if (index < 0) throw new Error(`unknown enum value ${JSON.stringify(value)}`);
  return index;
}

/** An enum read from the wire as the loader gives it (option `enums: String`): its name, or an unknown number. */
export function enumName(names: readonly string[], value: number): string | number {
  return names[value] ?? value;
}

export function readEnum(reader: ReaderType, wireType: number): number {
  if (wireType !== VARINT) throw new Error('protobuf enum field with a wrong wire type');
  return reader.int32();
}

export function readBool(reader: ReaderType, wireType: number): boolean {
  if (wireType !== VARINT) throw new Error('protobuf bool field with a wrong wire type');
  return reader.bool();
}

export function finish(writer: WriterType): Buffer {
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A message whose fields are all skipped: for requests the server only answers UNIMPLEMENTED or with constants. */
export function decodeEmpty(bytes: Uint8Array): Record<string, never> {
  readFields(Reader.create(bytes), undefined, () => false);
  return {};
}

export function encodeEmpty(): Buffer {
  return Buffer.alloc(0);
}
