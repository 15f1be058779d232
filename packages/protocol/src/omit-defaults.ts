/**
 * Go's protobuf runtime leaves proto3 fields that hold their zero value off the wire; protobufjs writes every
 * field present in the object, and our decoded objects carry every field (loader option `defaults`). To put
 * the same bytes on the wire as upstream does, each serializer drops zero-valued fields first. Fields inside a
 * oneof keep their value: there, presence is the meaning.
 */
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

type Message = Record<string, unknown>;

function isZero(field: protobuf.Field, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (field.resolvedType instanceof protobuf.Enum) {
    return value === 0 || value === field.resolvedType.valuesById[0];
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value.length === 0;
  return value === '' || value === false || value === 0 || value === '0';
}

function strip(type: protobuf.Type, message: Message): Message {
  const out: Message = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (field.map) {
      if (value !== null && typeof value === 'object' && Object.keys(value).length > 0)
        out[field.name] = value;
    } else if (field.repeated) {
      if (Array.isArray(value) && value.length > 0) {
        out[field.name] =
          field.resolvedType instanceof protobuf.Type
            ? value.map((item: Message) => strip(field.resolvedType as protobuf.Type, item))
            : value;
      }
    } else if (field.resolvedType instanceof protobuf.Type) {
      if (value !== undefined && value !== null)
        out[field.name] = strip(field.resolvedType, value as Message);
    } else if (field.partOf !== null || !isZero(field, value)) {
      if (value !== undefined && value !== null) out[field.name] = value;
    }
  }
  return out;
}

/** Wraps every request and response serializer of `definition` so zero-valued fields stay off the wire. */
export function omitProto3Defaults(definition: PackageDefinition, descriptorJson: object): PackageDefinition {
  const root = protobuf.Root.fromJSON(descriptorJson).resolveAll();
  for (const [name, entry] of Object.entries(definition)) {
    if ('format' in entry) continue; // a message or enum, not a service
    const service = root.lookupService(name);
    for (const [methodName, method] of Object.entries(
      entry as Record<string, MethodDefinition<Message, Message>>,
    )) {
      const reflected = service.methods[methodName];
      const requestType = reflected?.resolvedRequestType;
      const responseType = reflected?.resolvedResponseType;
      if (!requestType || !responseType)
        throw new Error(`${name}/${methodName} is not resolved in the descriptor`);
      const serializeRequest = method.requestSerialize;
      const serializeResponse = method.responseSerialize;
      method.requestSerialize = (message) => serializeRequest(strip(requestType, message));
      method.responseSerialize = (message) => serializeResponse(strip(responseType, message));
    }
  }
  return definition;
}
