/**
 * The wire of both contracts without a reflection loader: hand-written protobuf codecs as grpc-js service
 * definitions (what the driver serves and calls), and a unary gRPC server and one-shot client over
 * `node:http2` (what a provider serves with, without @grpc/grpc-js).
 */
export * from './provider.js';
export * from './csi.js';
export * from './status.js';
export * from './server.js';
export * from './client.js';
