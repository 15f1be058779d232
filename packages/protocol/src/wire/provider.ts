/**
 * The provider protocol (`v1alpha1.CSIDriverProvider`) and `grpc.health.v1.Health` as grpc-js service
 * definitions with hand-written codecs (codec.ts), instead of the reflection loader (@grpc/proto-loader over
 * the full protobufjs and the CSI + provider descriptor). Providers serve them (provider-sdk) and the driver
 * calls them: loading the descriptor cost a provider 9.3 MiB of RSS at idle, and the driver about 2 MiB (66.6 to 64.5 MiB idle, interleaved bench runs).
 *
 * Same bytes as upstream's Go providers and driver: fields in field-number order, proto3 zero values left off
 * the wire (an empty string, a zero mode, empty contents), unknown fields skipped on decode, and a scalar
 * repeated on the wire taking its last value, as protobuf parsers do.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  LENGTH_DELIMITED,
  Reader,
  VARINT,
  Writer,
  finish,
  readFields,
  readString,
  tag,
  writeString,
  type ReaderType,
  type WriterType,
} from './codec.js';

/** MountResponse.absent_object: ours, a field number upstream's drivers skip as unknown. */
const ABSENT_OBJECT_FIELD = 1000;

export interface ObjectVersion {
  readonly id: string;
  readonly version: string;
}

/** Ours (MountResponse field 1000): an optional object the provider did not mount because the store lacks it. */
export interface AbsentObject {
  readonly id: string;
  readonly path: string;
  readonly reason: string;
}

export interface WireMountRequest {
  readonly attributes: string;
  readonly secrets: string;
  readonly target_path: string;
  readonly permission: string;
  readonly current_object_version: readonly ObjectVersion[];
}

export interface WireFile {
  readonly path: string;
  readonly mode: number;
  readonly contents: Uint8Array;
}

export interface WireMountResponse {
  readonly object_version: readonly ObjectVersion[];
  readonly files: readonly WireFile[];
  /** Ours (field 1000): set only when the provider reports absent optional objects. */
  readonly absent_object?: readonly AbsentObject[];
}

export interface WireVersionRequest {
  readonly version: string;
}

export interface WireVersionResponse {
  readonly version: string;
  readonly runtime_name: string;
  readonly runtime_version: string;
}

function encodeObjectVersion(writer: WriterType, field: number, entry: ObjectVersion): void {
  writer.uint32(tag(field, LENGTH_DELIMITED)).fork();
  writeString(writer, 1, entry.id);
  writeString(writer, 2, entry.version);
  writer.ldelim();
}

function decodeObjectVersion(reader: ReaderType, length: number): ObjectVersion {
  let id = '';
  let version = '';
  readFields(reader, length, (field, wireType) => {
    if (field === 1) id = readString(reader, wireType);
    else if (field === 2) version = readString(reader, wireType);
    else return false;
    return true;
  });
  return { id, version };
}

export function encodeVersionRequest(message: WireVersionRequest): Buffer {
  const writer = Writer.create();
  writeString(writer, 1, message.version);
  return finish(writer);
}

export function decodeVersionRequest(bytes: Uint8Array): WireVersionRequest {
  const reader = Reader.create(bytes);
  let version = '';
  readFields(reader, undefined, (field, wireType) => {
    if (field !== 1) return false;
    version = readString(reader, wireType);
    return true;
  });
  return { version };
}

export function encodeVersionResponse(message: WireVersionResponse): Buffer {
  const writer = Writer.create();
  writeString(writer, 1, message.version);
  writeString(writer, 2, message.runtime_name);
  writeString(writer, 3, message.runtime_version);
  return finish(writer);
}

export function decodeVersionResponse(bytes: Uint8Array): WireVersionResponse {
  const reader = Reader.create(bytes);
  const out = { version: '', runtime_name: '', runtime_version: '' };
  readFields(reader, undefined, (field, wireType) => {
    if (field === 1) out.version = readString(reader, wireType);
    else if (field === 2) out.runtime_name = readString(reader, wireType);
    else if (field === 3) out.runtime_version = readString(reader, wireType);
    else return false;
    return true;
  });
  return out;
}

export function encodeMountRequest(message: WireMountRequest): Buffer {
  const writer = Writer.create();
  writeString(writer, 1, message.attributes);
  writeString(writer, 2, message.secrets);
  writeString(writer, 3, message.target_path);
  writeString(writer, 4, message.permission);
  for (const entry of message.current_object_version) encodeObjectVersion(writer, 5, entry);
  return finish(writer);
}

export function decodeMountRequest(bytes: Uint8Array): WireMountRequest {
  const reader = Reader.create(bytes);
  const out = {
    attributes: '',
    secrets: '',
    target_path: '',
    permission: '',
    current_object_version: [] as ObjectVersion[],
  };
  readFields(reader, undefined, (field, wireType) => {
    if (field === 1) out.attributes = readString(reader, wireType);
    else if (field === 2) out.secrets = readString(reader, wireType);
    else if (field === 3) out.target_path = readString(reader, wireType);
    else if (field === 4) out.permission = readString(reader, wireType);
    else if (field === 5 && wireType === LENGTH_DELIMITED) {
      out.current_object_version.push(decodeObjectVersion(reader, reader.uint32()));
    } else return false;
    return true;
  });
  return out;
}

export function encodeMountResponse(message: WireMountResponse): Buffer {
  const writer = Writer.create();
  for (const entry of message.object_version) encodeObjectVersion(writer, 1, entry);
  // Field 2 (Error) is never set by upstream's providers, nor here.
  for (const file of message.files) {
    writer.uint32(tag(3, LENGTH_DELIMITED)).fork();
    writeString(writer, 1, file.path);
    if (file.mode !== 0) writer.uint32(tag(2, VARINT)).int32(file.mode);
    if (file.contents.length > 0) writer.uint32(tag(3, LENGTH_DELIMITED)).bytes(file.contents);
    writer.ldelim();
  }
  // Ours (field 1000, AbsentObject): only when a provider reports absent optional objects.
  for (const absent of message.absent_object ?? []) {
    writer.uint32(tag(ABSENT_OBJECT_FIELD, LENGTH_DELIMITED)).fork();
    writeString(writer, 1, absent.id);
    writeString(writer, 2, absent.path);
    writeString(writer, 3, absent.reason);
    writer.ldelim();
  }
  return finish(writer);
}

export function decodeMountResponse(
  bytes: Uint8Array,
): WireMountResponse & { readonly error?: { readonly code: string } } {
  const reader = Reader.create(bytes);
  const objectVersions: ObjectVersion[] = [];
  const files: { path: string; mode: number; contents: Uint8Array }[] = [];
  const absentObjects: AbsentObject[] = [];
  let error: { code: string } | undefined;
  readFields(reader, undefined, (field, wireType) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) objectVersions.push(decodeObjectVersion(reader, reader.uint32()));
    else if (field === 2) {
      const current = error ?? { code: '' };
      readFields(reader, reader.uint32(), (inner, innerType) => {
        if (inner !== 1) return false;
        current.code = readString(reader, innerType);
        return true;
      });
      error = current;
    } else if (field === 3) {
      const file: { path: string; mode: number; contents: Uint8Array } = {
        path: '',
        mode: 0,
        contents: new Uint8Array(0),
      };
      readFields(reader, reader.uint32(), (inner, innerType) => {
        if (inner === 1) file.path = readString(reader, innerType);
        else if (inner === 2 && innerType === VARINT) file.mode = reader.int32();
        else if (inner === 3 && innerType === LENGTH_DELIMITED) file.contents = reader.bytes();
        else return false;
        return true;
      });
      files.push(file);
    } else if (field === ABSENT_OBJECT_FIELD) {
      const absent = { id: '', path: '', reason: '' };
      readFields(reader, reader.uint32(), (inner, innerType) => {
        if (inner === 1) absent.id = readString(reader, innerType);
        else if (inner === 2) absent.path = readString(reader, innerType);
        else if (inner === 3) absent.reason = readString(reader, innerType);
        else return false;
        return true;
      });
      absentObjects.push(absent);
    } else return false;
    return true;
  });
  return {
    object_version: objectVersions,
    files,
    absent_object: absentObjects,
    ...(error === undefined ? {} : { error }),
  };
}

/** `v1alpha1.CSIDriverProvider`, as grpc-js takes a service. */
export const providerServiceDefinition = {
  Version: {
    path: '/v1alpha1.CSIDriverProvider/Version',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeVersionRequest,
    requestDeserialize: decodeVersionRequest,
    responseSerialize: encodeVersionResponse,
    responseDeserialize: decodeVersionResponse,
  },
  Mount: {
    path: '/v1alpha1.CSIDriverProvider/Mount',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeMountRequest,
    requestDeserialize: decodeMountRequest,
    responseSerialize: encodeMountResponse,
    responseDeserialize: decodeMountResponse,
  },
} satisfies ServiceDefinition;

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type ServingStatus = (typeof SERVING_STATUS)[number];

export interface HealthCheckRequest {
  readonly service: string;
}

export interface HealthCheckResponse {
  readonly status: ServingStatus;
}

/** `grpc.health.v1.Health` with `Check` only, as upstream's providers serve it. */
export const healthServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (message: HealthCheckRequest): Buffer => {
      const writer = Writer.create();
      writeString(writer, 1, message.service);
      return finish(writer);
    },
    requestDeserialize: (bytes: Uint8Array): HealthCheckRequest => {
      const reader = Reader.create(bytes);
      let service = '';
      readFields(reader, undefined, (field, wireType) => {
        if (field !== 1) return false;
        service = readString(reader, wireType);
        return true;
      });
      return { service };
    },
    responseSerialize: (message: HealthCheckResponse): Buffer => {
      const writer = Writer.create();
      const status = SERVING_STATUS.indexOf(message.status);
      if (status > 0) writer.uint32(tag(1, VARINT)).int32(status);
      return finish(writer);
    },
    responseDeserialize: (bytes: Uint8Array): HealthCheckResponse => {
      const reader = Reader.create(bytes);
      let status: ServingStatus = 'UNKNOWN';
      readFields(reader, undefined, (field, wireType) => {
        if (field !== 1 || wireType !== VARINT) return false;
        status = SERVING_STATUS[reader.int32()] ?? 'UNKNOWN';
        return true;
      });
      return { status };
    },
  },
} satisfies ServiceDefinition;
