/**
 * Hand-written protobuf codecs of both contracts, as grpc-js service definitions: what the daemons use at
 * run time instead of the reflection loader of the package root (which tests keep as the reference).
 */
export * from './provider.js';
export * from './csi.js';
